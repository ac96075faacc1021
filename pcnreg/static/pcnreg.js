// Progressive enhancement only: every page works without JavaScript.
import { initAll } from '/assets/nhsuk-frontend.min.js'
initAll()

// A map (an iframe of this site) tells the page which PCN was chosen: highlight its table row.
window.addEventListener('message', (event) => {
  if (event.origin !== window.location.origin) return
  const data = event.data
  if (!data || data.type !== 'pcnreg:pcn' || !/^[0-9]+$/.test(String(data.key))) return
  const cell = document.getElementById(`pcn-row-${data.key}`)
  const row = cell && cell.closest('tr')
  if (!row) return
  for (const other of document.querySelectorAll('tr.pcnreg-row--chosen')) {
    other.classList.remove('pcnreg-row--chosen')
    other.removeAttribute('aria-current')
  }
  row.classList.add('pcnreg-row--chosen')
  row.setAttribute('aria-current', 'true')
})

// The ballot letters' print button (hidden without JavaScript: the browser's Print command does the same).
for (const button of document.querySelectorAll('button[data-print]')) {
  button.hidden = false
  button.addEventListener('click', () => window.print())
}
