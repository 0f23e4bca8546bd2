// The registry's models: search, sort, one page of rows, paging and "Load more".
import { field, h } from "./dom";
import { disabledUntil, type Rpc } from "./rpc";
import { type Model, type ModelRow, update, watch } from "./state";
import { table } from "./table";

const SORTS: { value: string; text: string }[] = [
  { value: "name:asc", text: "Name (A to Z)" },
  { value: "name:desc", text: "Name (Z to A)" },
  { value: "updated:desc", text: "Last updated (newest first)" },
  { value: "updated:asc", text: "Last updated (oldest first)" },
];
const SEARCH_DELAY_MS = 300;

export function modelsPane(model: Model, rpc: Rpc): HTMLElement {
  const search = h("input", { type: "search", autocomplete: "off", spellcheck: "false", placeholder: "name contains…" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => update(model, { model_query: search.value, models_offset: 0 }), SEARCH_DELAY_MS);
  });

  const sort = h("select", {}, ...SORTS.map((s) => h("option", { value: s.value }, s.text)));
  sort.addEventListener("change", () => {
    const [key, direction] = sort.value.split(":");
    update(model, {
      model_sort: key as "name" | "updated",
      model_sort_descending: direction === "desc",
      models_offset: 0,
    });
  });

  const rows = table<ModelRow>({
    label: "Models",
    columns: [
      { key: "name", label: "Name" },
      { key: "latest_version", label: "Latest version" },
      { key: "stages", label: "Stage" },
      { key: "aliases", label: "Aliases" },
      { key: "owner", label: "Owner" },
      { key: "updated", label: "Last updated" },
    ],
    rowKey: (row) => row.name,
    empty: "No models to show.",
    onSelect: (name) => update(model, { model_name: name }),
  });

  const count = h("span", { class: "wru-count", role: "status" });
  const previous = h("button", { type: "button" }, "Previous page");
  const next = h("button", { type: "button" }, "Next page");
  const more = h("button", { type: "button" }, "Load more");
  const page = (step: number) =>
    update(model, { models_offset: Math.max(0, model.get("models_offset") + step * model.get("page_size")) });
  previous.addEventListener("click", () => page(-1));
  next.addEventListener("click", () => page(1));
  more.addEventListener("click", async () => {
    await disabledUntil(more, rpc.request("load_more"));
    more.disabled = !model.get("models_more");
  });

  watch(model, ["model_rows", "model_name"], () => rows.update(model.get("model_rows"), model.get("model_name")));
  watch(model, ["model_sort", "model_sort_descending"], () => {
    const key = model.get("model_sort");
    const descending = model.get("model_sort_descending");
    sort.value = `${key}:${descending ? "desc" : "asc"}`;
    rows.setSorted(key === "name" ? "name" : "updated", descending);
  });
  watch(model, ["model_query"], () => {
    if (document.activeElement !== search) search.value = model.get("model_query");
  });
  watch(model, ["models_offset", "models_matched", "models_loaded", "models_more", "model_rows", "registry_id"], () => {
    const offset = model.get("models_offset");
    const shown = model.get("model_rows").length;
    const matched = model.get("models_matched");
    const loaded = model.get("models_loaded");
    const hasMore = model.get("models_more");
    const range = shown ? `${offset + 1}–${offset + shown}` : "0";
    const filtered = matched === loaded ? "" : ` (${matched} match the search)`;
    const tail = hasMore ? "more in the registry" : "all loaded";
    count.textContent = model.get("registry_id")
      ? `Showing ${range} of ${loaded} loaded${filtered}; ${tail}.`
      : "Choose a registry to see its models.";
    previous.disabled = offset === 0;
    next.disabled = offset + shown >= matched;
    more.disabled = !hasMore;
    search.disabled = sort.disabled = !model.get("registry_id");
  });

  return h(
    "section",
    { class: "wru-pane wru-models", "data-testid": "models" },
    h("h3", {}, "Models"),
    h("div", { class: "wru-row" }, field("Search models", search), field("Sort by", sort)),
    rows.element,
    h("div", { class: "wru-row wru-paging" }, count, previous, next, more),
  );
}
