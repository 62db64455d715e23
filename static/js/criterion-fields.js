// The criterion form (rules_admin/_criterion_fields.html) shows the fields of the chosen type only
// and suggests known fields, activity kinds and property keys. Loaded by a <script> at the end of
// the fields, on the page or swapped in by htmx, so document.currentScript sits in its form.
(function () {
  var form = document.currentScript.closest("form");
  var type = form.querySelector("[name=type]");
  form.querySelector("[name=field]").setAttribute("list", "known-fields");
  form.querySelector("[name=kinds]").setAttribute("list", "known-kinds");
  form.querySelectorAll("[name^=where_field_]").forEach(function (el) { el.setAttribute("list", "known-keys"); });
  function show() {
    form.querySelectorAll("[data-types]").forEach(function (el) {
      el.hidden = el.dataset.types.split(" ").indexOf(type.value) < 0;
    });
  }
  type.addEventListener("change", show);
  show();
})();
