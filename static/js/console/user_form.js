// Show only the fieldset that belongs to the chosen role (the server checks again).
const select = document.getElementById("role-select");
function sync() {
  for (const fs of document.querySelectorAll("fieldset[data-role]")) {
    fs.hidden = fs.dataset.role !== select.value;
  }
}
if (select) {
  select.addEventListener("change", sync);
  sync();
}
