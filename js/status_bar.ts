// What the kernel is doing, the last error and the last notice, plus a Refresh button.
import { h } from "./dom";
import { disabledUntil, type Rpc } from "./rpc";
import { type Model, update, watch } from "./state";

export function statusBar(model: Model, rpc: Rpc, root: HTMLElement): HTMLElement {
  const busy = h("span", { class: "wru-busy", role: "status", "data-testid": "busy" });
  const notice = h("span", { class: "wru-notice", role: "status" });
  const errorText = h("span", {});
  const dismiss = h("button", { type: "button", class: "wru-link" }, "Dismiss");
  const error = h("div", { class: "wru-error", role: "alert", "data-testid": "error" }, errorText, dismiss);
  const refresh = h("button", { type: "button" }, "Refresh");
  dismiss.addEventListener("click", () => update(model, { error: "" }));
  refresh.addEventListener("click", () => void disabledUntil(refresh, rpc.request("refresh")));
  watch(model, ["busy"], () => {
    const labels = model.get("busy");
    busy.textContent = labels.length ? labels[labels.length - 1] : "";
    busy.hidden = labels.length === 0;
    root.setAttribute("aria-busy", String(labels.length > 0));
  });
  watch(model, ["error"], () => {
    errorText.textContent = model.get("error");
    error.hidden = !model.get("error");
  });
  watch(model, ["message"], () => {
    notice.textContent = model.get("message");
  });
  return h(
    "header",
    { class: "wru-header" },
    h("h2", {}, "Model registries"),
    busy,
    notice,
    refresh,
    error,
  );
}
