// The uploads the service runs for this panel: a bar, bytes, rate and time left while each is in
// flight, a Cancel button, then how it ended. Rows are updated in place, so a pressed Cancel
// stays pressed while the kernel asks the service.
import { h } from "./dom";
import { disabledUntil, type Rpc } from "./rpc";
import { type Model, type UploadJobRow, watch } from "./state";

interface Item {
  element: HTMLLIElement;
  title: HTMLElement;
  file: HTMLElement;
  label: HTMLElement;
  bar: HTMLProgressElement;
  figures: HTMLElement;
  outcome: HTMLElement;
  note: HTMLElement;
  cancel: HTMLButtonElement;
}

function newItem(id: string, rpc: Rpc): Item {
  const title = h("span", { class: "wru-upload-title" });
  const file = h("code", { class: "wru-upload-file" });
  const label = h("span", { class: "wru-upload-label" });
  const cancel = h("button", { type: "button" }, "Cancel");
  const bar = h("progress", { max: 1 });
  const figures = h("p", { class: "wru-upload-figures" });
  const outcome = h("p", { class: "wru-upload-outcome", "aria-live": "polite" });
  const note = h("p", { class: "wru-note" });
  cancel.addEventListener("click", () => {
    void disabledUntil(cancel, rpc.request("cancel_upload", { model_version_id: Number(id) }));
  });
  const head = h("div", { class: "wru-upload-head" }, title, label, cancel);
  const element = h("li", { class: "wru-upload", "data-key": id }, head, file, bar, figures, outcome, note);
  return { element, title, file, label, bar, figures, outcome, note, cancel };
}

function show(item: Item, row: UploadJobRow): void {
  item.element.dataset.status = row.status;
  item.title.replaceChildren(h("strong", {}, row.name || "upload"), ` · model version ${row.id}`);
  item.file.textContent = row.file;
  item.file.hidden = !row.file;
  item.label.textContent = row.label;
  item.cancel.hidden = !row.cancellable;
  item.cancel.setAttribute("aria-label", `Cancel the upload of ${row.file || `model version ${row.id}`}`);
  item.bar.hidden = row.status !== "uploading" && row.status !== "ready";
  item.bar.setAttribute("aria-label", `Upload of ${row.file || `model version ${row.id}`}`);
  if (row.fraction === null) item.bar.removeAttribute("value");
  else item.bar.value = row.fraction;
  item.figures.textContent = [row.percent, row.bytes, row.rate, row.time_left, row.attempts].filter((t) => t).join(" · ");
  item.outcome.className = row.status === "error" ? "wru-upload-outcome wru-error" : "wru-upload-outcome";
  if (row.status === "ready") item.outcome.replaceChildren("Ready. sha256 ", h("code", { "data-testid": "upload-sha" }, row.sha));
  else item.outcome.replaceChildren(row.error);
  item.outcome.hidden = row.status !== "ready" && !row.error;
  item.note.textContent = row.note;
  item.note.hidden = !row.note;
}

export function uploadsPane(model: Model, rpc: Rpc): HTMLElement {
  const count = h("p", { class: "wru-count" });
  const list = h("ul", { class: "wru-uploads", "aria-label": "Uploads" });
  const empty = h("p", { class: "wru-empty" }, "No uploads in flight.");
  const items = new Map<string, Item>();
  watch(model, ["upload_job_rows"], () => {
    const rows = model.get("upload_job_rows");
    const keep = new Set(rows.map((row) => row.id));
    for (const [id, item] of items) {
      if (!keep.has(id)) {
        item.element.remove();
        items.delete(id);
      }
    }
    rows.forEach((row, index) => {
      let item = items.get(row.id);
      if (!item) {
        item = newItem(row.id, rpc);
        items.set(row.id, item);
      }
      show(item, row);
      if (list.children[index] !== item.element) list.insertBefore(item.element, list.children[index] ?? null);
    });
    const flying = rows.filter((row) => row.status === "uploading").length;
    count.textContent = rows.length === 0 ? "" : `${flying} in flight, ${rows.length - flying} ended.`;
    empty.hidden = rows.length > 0;
    list.hidden = rows.length === 0;
  });
  return h("section", { class: "wru-pane", "data-testid": "uploads" }, h("h3", {}, "Uploads"), count, empty, list);
}
