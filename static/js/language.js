// Picking a language switches at once (the form's button, shown without JavaScript, does the
// same); an event listener rather than an inline onchange, which the content security policy refuses.
document.addEventListener("DOMContentLoaded", function () {
  var select = document.getElementById("language");
  if (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  }
});
