// The selected model's versions; choosing one shows its files.
import { h } from "./dom";
import { type Model, type VersionRow, update, watch } from "./state";
import { newestShown, table } from "./table";

export function versionsPane(model: Model): HTMLElement {
  const heading = h("h3", {}, "Versions");
  const count = h("p", { class: "wru-count" });
  const rows = table<VersionRow>({
    label: "Versions",
    columns: [
      { key: "version", label: "Version" },
      { key: "stage", label: "Stage" },
      { key: "aliases", label: "Aliases" },
      { key: "status", label: "Status" },
      { key: "run_id", label: "Run id" },
      { key: "source", label: "Source" },
      { key: "created", label: "Created" },
      { key: "updated", label: "Updated" },
      { key: "description", label: "Description" },
    ],
    rowKey: (row) => row.version,
    empty: "Choose a model to see its versions.",
    onSelect: (version) => update(model, { version }),
  });
  watch(model, ["version_rows", "version"], () => rows.update(model.get("version_rows"), model.get("version")));
  watch(model, ["model_name", "versions_total", "version_rows"], () => {
    const name = model.get("model_name");
    heading.textContent = name ? `Versions of ${name}` : "Versions";
    const total = model.get("versions_total");
    const shown = model.get("version_rows").length;
    count.textContent = name ? `${total} version${total === 1 ? "" : "s"}${newestShown(shown, total)}.` : "";
  });
  return h("section", { class: "wru-pane", "data-testid": "versions" }, heading, count, rows.element);
}
