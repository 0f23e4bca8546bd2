// The "Workspace" select: the caller's workspaces.
import { field, h, setOptions } from "./dom";
import { type Model, type PanelState, update, watch } from "./state";

/** A select of the caller's workspaces bound to `key`: the panel's workspace, or the upload's target. */
export function workspaceSelect(model: Model, key: "workspace_id" | "upload_workspace_id"): HTMLSelectElement {
  const select = h("select", {});
  select.addEventListener("change", () => {
    const change: Partial<PanelState> = {};
    change[key] = select.value === "" ? null : Number(select.value);
    update(model, change);
  });
  watch(model, ["workspace_options", key], () => {
    const options = model.get("workspace_options").map((w) => ({ value: String(w.id), text: w.name }));
    setOptions(select, options, String(model.get(key) ?? ""), "Choose a workspace…");
  });
  return select;
}

export function workspacePane(model: Model): HTMLElement {
  return h("section", { class: "wru-pane", "data-testid": "workspace" }, field("Workspace", workspaceSelect(model, "workspace_id")));
}
