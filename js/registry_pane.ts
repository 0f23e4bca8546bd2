// The "Registry" select, attach/detach, and the form that connects a new registry.
import { field, h, setOptions } from "./dom";
import { disabledUntil, type Rpc } from "./rpc";
import { type Model, type Option, update, watch } from "./state";

function choices(options: Option[]): { value: string; text: string }[] {
  return options.map((o) => ({ value: String(o.id), text: o.kind ? `${o.name} (${o.kind})` : o.name }));
}

export function registryPane(model: Model, rpc: Rpc): HTMLElement {
  const select = h("select", {});
  select.addEventListener("change", () => {
    update(model, { registry_id: select.value === "" ? null : select.value });
  });
  const detach = h("button", { type: "button" }, "Detach");
  detach.addEventListener("click", () => {
    const id = model.get("registry_id");
    if (id) void disabledUntil(detach, rpc.request("detach_registry", { registry_id: id }));
  });

  const others = h("select", {});
  const attach = h("button", { type: "button" }, "Attach");
  attach.addEventListener("click", () => {
    if (others.value) void disabledUntil(attach, rpc.request("attach_registry", { registry_id: others.value }));
  });

  const noWorkspace = () => model.get("workspace_id") === null;
  watch(model, ["registry_options", "registry_id", "workspace_id"], () => {
    const options = choices(model.get("registry_options"));
    const placeholder = options.length ? "Choose a registry…" : "No registry attached";
    setOptions(select, options, model.get("registry_id") ?? "", placeholder);
    select.disabled = noWorkspace();
    detach.disabled = !model.get("registry_id");
  });
  watch(model, ["other_registries", "workspace_id"], () => {
    const options = choices(model.get("other_registries"));
    setOptions(others, options, others.value, options.length ? undefined : "None to attach");
    others.disabled = attach.disabled = options.length === 0 || noWorkspace();
  });

  return h(
    "section",
    { class: "wru-pane", "data-testid": "registry" },
    h("div", { class: "wru-row" }, field("Registry", select), detach),
    h("div", { class: "wru-row" }, field("Other registries", others), attach),
    connectForm(model, rpc),
  );
}

function connectForm(model: Model, rpc: Rpc): HTMLElement {
  const name = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const url = h("input", { type: "text", inputmode: "url", autocomplete: "off", spellcheck: "false", placeholder: "http://mlflow:5000" });
  const token = h("input", { type: "password", autocomplete: "new-password" });
  const submit = h("button", { type: "submit" }, "Connect registry");
  const outcome = h("p", { class: "wru-outcome", role: "status" });
  const form = h(
    "form",
    { class: "wru-connect" },
    h("h4", {}, "Connect a registry"),
    h("div", { class: "wru-row" }, field("Name", name), field("URL", url), field("Token", token), submit),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const secret = token.value;
    token.value = "";
    outcome.textContent = "Connecting…";
    const asked = rpc.request("connect_registry", { name: name.value, url: url.value, token: secret });
    const reply = await disabledUntil(submit, asked);
    outcome.textContent = reply.ok ? `Connected ${name.value}.` : "";
    if (reply.ok) name.value = url.value = "";
    submit.disabled = model.get("workspace_id") === null;
  });
  watch(model, ["workspace_id"], () => {
    submit.disabled = model.get("workspace_id") === null;
  });
  return form;
}
