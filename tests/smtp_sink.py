"""A minimal SMTP server on 127.0.0.1 for tests: it accepts every message and keeps it."""
from __future__ import annotations

import email
import email.policy
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    def _reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode("ascii"))

    def handle(self) -> None:
        self._reply("220 127.0.0.1 test sink")
        sender, recipients, lines, in_data = None, [], [], False
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    message = email.message_from_string("\n".join(lines), policy=email.policy.default)
                    self.server.messages.append({"from": sender, "to": recipients, "message": message})
                    sender, recipients, lines, in_data = None, [], [], False
                    self._reply("250 OK")
                else:
                    lines.append(line[1:] if line.startswith("..") else line)
                continue
            verb = line[:4].upper()
            if verb in ("HELO", "EHLO"):
                self._reply("250 127.0.0.1")
            elif verb == "MAIL":
                sender = line.split(":", 1)[1].strip(" <>")
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].strip(" <>"))
                self._reply("250 OK")
            elif verb == "DATA":
                in_data = True
                self._reply("354 End data with <CR><LF>.<CR><LF>")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("250 OK")


class SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.messages: list[dict] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
