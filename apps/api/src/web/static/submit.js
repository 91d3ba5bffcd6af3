/* global document, window, FormData, XMLHttpRequest */
// The submit form, enhanced: sends the fields in the order the API reads them (fields first, then
// the file, named `image` or `bundle`), shows the upload's progress, and puts the server's field
// errors next to their fields. Without this script the form still posts an image to the API.
(function () {
  "use strict";
  var form = document.getElementById("submit-form");
  if (!form) return;
  var $ = function (id) {
    return document.getElementById(id);
  };
  var kindImage = $("sub-kind-image");
  var kindBundle = $("sub-kind-bundle");
  var commandField = $("command-field");
  var progressBox = $("upload-progress");
  var progress = $("sub-progress");
  var progressText = $("sub-progress-text");
  var formError = $("submit-error");
  var button = $("sub-button");
  // Which field each error code without a field name belongs to.
  var FILE_CODES = /UPLOAD|BUNDLE|MISSING_FILE|WRONG_FILE_FIELD|TOO_MANY_FILES|NOT_MULTIPART/;
  var INPUTS = {
    model: "sub-model",
    description: "sub-description",
    link: "sub-link",
    ensemble: "sub-ensemble",
    command: "sub-command",
    image: "sub-file",
    bundle: "sub-file",
    file: "sub-file",
  };

  function syncKind() {
    commandField.hidden = !kindBundle.checked;
  }
  kindImage.addEventListener("change", syncKind);
  kindBundle.addEventListener("change", syncKind);
  syncKind();

  // Binary units with one decimal, as every size Holdout prints (formatBytes in @holdout/contracts).
  function mib(n) {
    return (n / 1048576).toFixed(1) + " MiB";
  }

  function clearErrors() {
    formError.hidden = true;
    formError.textContent = "";
    var shown = form.querySelectorAll("[data-error-for]");
    for (var i = 0; i < shown.length; i++) {
      shown[i].hidden = true;
      shown[i].textContent = "";
    }
    var invalid = form.querySelectorAll("[aria-invalid]");
    for (var j = 0; j < invalid.length; j++) invalid[j].removeAttribute("aria-invalid");
  }

  function showFieldError(field, message) {
    var inputId = INPUTS[field];
    var slot = inputId
      ? form.querySelector(
          '[data-error-for="' + (field === "bundle" || field === "file" ? "image" : field) + '"]',
        )
      : null;
    if (!inputId || !slot) return false;
    slot.textContent = message;
    slot.hidden = false;
    $(inputId).setAttribute("aria-invalid", "true");
    return true;
  }

  function showProblem(problem, status) {
    var placed = null;
    var errors = (problem && problem.errors) || [];
    for (var i = 0; i < errors.length; i++) {
      if (showFieldError(errors[i].field, errors[i].message) && !placed) placed = INPUTS[errors[i].field];
    }
    var code = (problem && problem.code) || "";
    if (!placed && FILE_CODES.test(code)) {
      showFieldError("image", problem.detail);
      placed = "sub-file";
    }
    if (!placed) {
      formError.textContent =
        (problem && problem.detail) || "The upload failed (HTTP " + status + "). Please try again.";
      formError.hidden = false;
      formError.focus();
    } else {
      $(placed).focus();
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var fileInput = $("sub-file");
    var file = fileInput.files && fileInput.files[0];
    if (!$("sub-model").value.trim()) {
      showFieldError("model", "Give your model a name.");
      $("sub-model").focus();
      return;
    }
    if (!file) {
      showFieldError("image", "Choose the file to upload.");
      fileInput.focus();
      return;
    }
    // The server's rule too; checked here so that a mistyped link costs no upload.
    var link = $("sub-link").value.trim();
    if (link && !/^https?:\/\/\S+$/i.test(link)) {
      showFieldError("link", "must be an http(s) URL");
      $("sub-link").focus();
      return;
    }
    var bundle = kindBundle.checked;
    var data = new FormData();
    data.append("model", $("sub-model").value);
    if ($("sub-description").value.trim()) data.append("description", $("sub-description").value);
    if ($("sub-link").value.trim()) data.append("link", $("sub-link").value.trim());
    data.append("ensemble", $("sub-ensemble").checked ? "true" : "false");
    if (bundle && $("sub-command").value.trim()) data.append("command", $("sub-command").value.trim());
    data.append(bundle ? "bundle" : "image", file, file.name);

    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action"));
    xhr.setRequestHeader("Accept", "application/json");
    progressBox.hidden = false;
    progress.value = 0;
    progress.setAttribute("data-updates", "0");
    progressText.textContent = "Starting the upload…";
    button.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var pct = Math.floor((100 * e.loaded) / e.total);
      progress.value = pct;
      progress.setAttribute("data-updates", String(Number(progress.getAttribute("data-updates")) + 1));
      progressText.textContent = mib(e.loaded) + " of " + mib(e.total) + " (" + pct + "%)";
    });
    xhr.upload.addEventListener("load", function () {
      progressText.textContent = "Uploaded; the server is checking the file…";
    });
    xhr.addEventListener("load", function () {
      var body;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 202 && body && body.id) {
        progressText.textContent = "Accepted. Opening your submission…";
        window.location.assign(
          (document.body.getAttribute("data-pages-base") || "") +
            "/submissions/" +
            encodeURIComponent(body.id),
        );
        return;
      }
      button.disabled = false;
      progressBox.hidden = true;
      showProblem(body, xhr.status);
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      progressBox.hidden = true;
      showProblem(null, 0);
    });
    xhr.send(data);
  });
})();
