// The text of the file last previewed.
import { h } from "./dom";
import { type Model, watch } from "./state";

export function previewPane(model: Model): HTMLElement {
  const heading = h("h3", {}, "Preview");
  const note = h("p", { class: "wru-note" });
  const text = h("pre", { class: "wru-preview", tabindex: 0 });
  watch(model, ["preview", "preview_available"], () => {
    const preview = model.get("preview");
    const path = preview.path;
    heading.textContent = path ? `Preview of ${path}${preview.size ? ` (${preview.size})` : ""}` : "Preview";
    text.textContent = preview.text ?? "";
    text.hidden = !preview.text;
    text.setAttribute("aria-label", path ? `Contents of ${path}` : "File contents");
    note.textContent =
      preview.note ||
      (model.get("preview_available") ? (path ? "" : "Press Preview next to a small text file.") : "Preview is unavailable on this server.");
  });
  return h("section", { class: "wru-pane", "data-testid": "preview" }, heading, note, text);
}
