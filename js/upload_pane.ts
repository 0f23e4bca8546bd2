// The upload form, pre-filled by the kernel; live name check, then the new id as soon as the
// service has taken the upload (its progress is in the Uploads pane).
import { field, h, setOptions, uniqueId } from "./dom";
import type { Rpc } from "./rpc";
import { type Model, update, watch } from "./state";
import { workspaceSelect } from "./workspace_pane";

const TYPING_DELAY_MS = 250;

function schemaList(title: string, columns: [string, string][]): HTMLElement {
  if (columns.length === 0) return h("p", { class: "wru-note" }, `${title}: none in the signature.`);
  return h(
    "details",
    { class: "wru-schema" },
    h("summary", {}, `${title} (${columns.length} column${columns.length === 1 ? "" : "s"})`),
    h("ul", {}, ...columns.map(([name, type]) => h("li", {}, h("code", {}, name), `: ${type}`))),
  );
}

export function uploadPane(model: Model, rpc: Rpc): HTMLElement {
  const file = h("p", { class: "wru-file-choice" });
  const problemId = uniqueId("name-problem");
  const problem = h("p", { id: problemId, class: "wru-problem", "aria-live": "polite" });
  const name = h("input", { type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": problemId });
  const framework = h("select", {});
  const requirements = h("textarea", { rows: 4, spellcheck: "false" });
  const visibility = h("select", {}, h("option", { value: "private" }, "private"), h("option", { value: "public" }, "public"));
  const target = workspaceSelect(model, "upload_workspace_id");
  const schemas = h("div", { class: "wru-schemas" });
  const notes = h("ul", { class: "wru-notes" });
  const button = h("button", { type: "submit", class: "wru-primary" }, "Upload");
  const progress = h("progress", { "aria-label": "Starting the upload" });
  const status = h("p", { class: "wru-status", role: "status" });
  const result = h("output", { "data-testid": "upload-result" });
  const resultLine = h("p", { class: "wru-result" }, "New model id: ", result);
  const failure = h("p", { class: "wru-error", role: "alert", "data-testid": "upload-error" });
  let pending = false;

  let timer: ReturnType<typeof setTimeout> | undefined;
  name.addEventListener("input", () => update(model, { upload_name: name.value }));
  requirements.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => update(model, { upload_requirements: requirements.value }), TYPING_DELAY_MS);
  });
  framework.addEventListener("change", () => update(model, { upload_framework: framework.value }));
  visibility.addEventListener("change", () => update(model, { upload_visibility: visibility.value }));

  const form = h(
    "form",
    { class: "wru-upload-form" },
    file,
    field("Model name", name, problem),
    field("Framework", framework),
    field("Requirements", requirements),
    h("div", { class: "wru-row" }, field("Visibility", visibility), field("Target workspace", target)),
    schemas,
    notes,
    h("div", { class: "wru-row" }, button, progress, status),
    resultLine,
    failure,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    if (requirements.value !== model.get("upload_requirements")) {
      update(model, { upload_requirements: requirements.value });
    }
    pending = true;
    showStatus();
    try {
      await rpc.request("upload");
    } finally {
      pending = false;
      showStatus();
    }
  });

  // Another upload may start while earlier ones are in flight: only one being started waits.
  function refreshButton(): void {
    const starting = pending || model.get("upload_status").state === "starting";
    const ready = !!model.get("artifact_path") && !!model.get("version") && !model.get("upload_name_problem") && !!model.get("upload_name");
    button.disabled = starting || !ready;
    form.setAttribute("aria-busy", String(starting));
  }

  watch(model, ["upload_name", "upload_name_problem"], () => {
    if (name.value !== model.get("upload_name")) name.value = model.get("upload_name");
    const why = model.get("upload_name_problem");
    problem.textContent = why ? `The name ${why}` : "";
    name.setAttribute("aria-invalid", String(!!why));
  });
  watch(model, ["upload_frameworks", "upload_framework"], () => {
    const options = model.get("upload_frameworks").map((f) => ({ value: f, text: f }));
    setOptions(framework, options, model.get("upload_framework"), "Choose a framework…");
  });
  watch(model, ["upload_requirements"], () => {
    if (document.activeElement !== requirements) requirements.value = model.get("upload_requirements");
  });
  watch(model, ["upload_visibility"], () => {
    visibility.value = model.get("upload_visibility");
  });
  watch(model, ["artifact_path", "model_name", "version"], () => {
    const path = model.get("artifact_path");
    file.replaceChildren();
    if (path) file.append("File to upload: ", h("code", {}, path), ` from ${model.get("model_name")} version ${model.get("version")}`);
    else file.append("Choose a version, then the file to upload in its files.");
  });
  watch(model, ["upload_input_schema", "upload_output_schema", "version"], () => {
    schemas.replaceChildren();
    if (model.get("version")) {
      schemas.append(schemaList("Input schema", model.get("upload_input_schema")), schemaList("Output schema", model.get("upload_output_schema")));
    }
  });
  watch(model, ["upload_notes"], () => notes.replaceChildren(...model.get("upload_notes").map((n) => h("li", {}, n))));
  // From the click until the kernel answers, the last upload's outcome is no longer shown; once
  // the service has the upload, its id shows at once and its progress in the Uploads pane.
  function showStatus(): void {
    const current = model.get("upload_status");
    const starting = pending || current.state === "starting";
    const known = !starting && (current.state === "running" || current.state === "done");
    const failed = !starting && current.state === "failed";
    progress.hidden = !starting;
    const startingText = current.state === "starting" ? current.message : "Starting the upload…";
    status.textContent = starting ? startingText : known ? current.message : "";
    result.textContent = known && current.model_id !== null ? String(current.model_id) : "";
    resultLine.hidden = !known;
    failure.textContent = failed ? current.message : "";
    failure.hidden = !failed;
    refreshButton();
  }
  watch(model, ["upload_status", "artifact_path", "version", "upload_name", "upload_name_problem"], showStatus);

  return h("section", { class: "wru-pane", "data-testid": "upload" }, h("h3", {}, "Upload to Wallaroo"), form);
}
