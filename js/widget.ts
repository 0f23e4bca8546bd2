// RegistryBrowser's view: one panel of panes, each bound to the traits it shows.
import type { RenderProps } from "@anywidget/types";
import { artifactsPane } from "./artifacts_pane";
import { h } from "./dom";
import { modelsPane } from "./models_pane";
import { previewPane } from "./preview_pane";
import { registryPane } from "./registry_pane";
import { createRpc } from "./rpc";
import type { PanelState } from "./state";
import { statusBar } from "./status_bar";
import { uploadPane } from "./upload_pane";
import { uploadedPane } from "./uploaded_pane";
import { uploadsPane } from "./uploads_pane";
import { versionsPane } from "./versions_pane";
import { workspacePane } from "./workspace_pane";

function render({ model, el }: RenderProps<PanelState>): () => void {
  const rpc = createRpc(model);
  const root = h("div", { class: "wru", "data-testid": "registry-browser", "data-lm-suppress-shortcuts": "true" });
  // Keys typed in the panel are ours, not JupyterLab's command shortcuts.
  root.addEventListener("keydown", (event) => event.stopPropagation());
  root.append(
    statusBar(model, rpc, root),
    h("div", { class: "wru-bar" }, workspacePane(model), registryPane(model, rpc)),
    h("div", { class: "wru-grid" }, modelsPane(model, rpc), versionsPane(model)),
    h("div", { class: "wru-grid" }, artifactsPane(model, rpc), previewPane(model)),
    h("div", { class: "wru-grid" }, uploadPane(model, rpc), h("div", { class: "wru-stack" }, uploadsPane(model, rpc), uploadedPane(model))),
  );
  el.replaceChildren(root);
  return () => rpc.dispose();
}

export default { render };
