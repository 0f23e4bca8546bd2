// The "Workspace" select: the caller's workspaces.
import { field, h, setOptions } from "./dom";
import { type Model, update, watch } from "./state";

export function workspacePane(model: Model): HTMLElement {
  const select = h("select", {});
  select.addEventListener("change", () => {
    update(model, { workspace_id: select.value === "" ? null : Number(select.value) });
  });
  watch(model, ["workspace_options", "workspace_id"], () => {
    const options = model.get("workspace_options").map((w) => ({ value: String(w.id), text: w.name }));
    setOptions(select, options, String(model.get("workspace_id") ?? ""), "Choose a workspace…");
  });
  return h("section", { class: "wru-pane", "data-testid": "workspace" }, field("Workspace", select));
}
