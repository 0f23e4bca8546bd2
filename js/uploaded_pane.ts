// The model versions uploaded into the selected workspace.
import { h } from "./dom";
import { type Model, type UploadedRow, watch } from "./state";
import { newestShown, table } from "./table";

export function uploadedPane(model: Model): HTMLElement {
  const count = h("p", { class: "wru-count" });
  const rows = table<UploadedRow>({
    label: "Uploaded models",
    columns: [
      { key: "id", label: "Id" },
      { key: "name", label: "Name" },
      { key: "framework", label: "Framework" },
      { key: "status", label: "Status" },
      { key: "sha", label: "sha256" },
      { key: "source", label: "Source" },
      { key: "created", label: "Created" },
    ],
    rowKey: (row) => row.id,
    empty: "Nothing uploaded into this workspace yet.",
  });
  watch(model, ["uploaded_rows", "uploaded_total", "workspace_id"], () => {
    rows.update(model.get("uploaded_rows"), null);
    const total = model.get("uploaded_total");
    const shown = model.get("uploaded_rows").length;
    count.textContent = model.get("workspace_id") === null ? "" : `${total} in this workspace${newestShown(shown, total)}.`;
  });
  return h("section", { class: "wru-pane", "data-testid": "uploaded" }, h("h3", {}, "Uploaded models"), count, rows.element);
}
