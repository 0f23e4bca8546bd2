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
  watch(model, ["registry_options", "registry_id", "workspace_id", "registry_rights"], () => {
    const options = choices(model.get("registry_options"));
    const placeholder = options.length ? "Choose a registry…" : "No registry attached";
    setOptions(select, options, model.get("registry_id") ?? "", placeholder);
    select.disabled = noWorkspace();
    detach.disabled = !model.get("registry_id") || refused(detach, refusal(model, "detach"));
  });
  watch(model, ["other_registries", "workspace_id", "registry_rights"], () => {
    const options = choices(model.get("other_registries"));
    setOptions(others, options, others.value, options.length ? undefined : "None to attach");
    const why = refusal(model, "attach");
    others.disabled = attach.disabled = options.length === 0 || noWorkspace() || refused(attach, why);
  });
  const note = h("p", { class: "wru-role-note", "data-testid": "registry-rights" });
  watch(model, ["registry_rights"], () => {
    note.textContent = model.get("registry_rights").note ?? "";
    note.hidden = note.textContent === "";
  });

  return h(
    "section",
    { class: "wru-pane", "data-testid": "registry" },
    h("div", { class: "wru-row" }, field("Registry", select), detach),
    h("div", { class: "wru-row" }, field("Other registries", others), attach),
    note,
    connectForm(model, rpc),
  );
}

/** Why the caller's role does not allow `action` here ("" when it does). */
function refusal(model: Model, action: "connect" | "attach" | "detach"): string {
  return model.get("registry_rights")[action] ?? "";
}

/** Put `why` on the button as its tooltip; whether there is a reason to refuse. */
function refused(button: HTMLButtonElement, why: string): boolean {
  button.title = why;
  return why !== "";
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
    allow();
  });
  const allow = () => {
    const why = refusal(model, "connect");
    submit.disabled = model.get("workspace_id") === null || refused(submit, why);
    form.hidden = why !== "";
  };
  watch(model, ["workspace_id", "registry_rights"], allow);
  return form;
}
