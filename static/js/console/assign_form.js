// Show the target fields that belong to the chosen kind of assignment (the server checks again).
const form = document.getElementById("assign-form");
function sync() {
  const target = form.querySelector("input[name=target]:checked").value;
  for (const el of form.querySelectorAll("[data-target]")) el.hidden = el.dataset.target !== target;
}
if (form) {
  form.addEventListener("change", sync);
  sync();
}
