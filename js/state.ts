// The synced traits of RegistryBrowser (wallaroo_registry_ui/panel/widget.py), as the view reads them.
import type { AnyModel } from "@anywidget/types";

export interface Option {
  id: string | number;
  name: string;
  kind?: string;
  url?: string;
}

export interface ModelRow {
  name: string;
  latest_version: string;
  stages: string;
  aliases: string;
  owner: string;
  updated: string;
}

export interface VersionRow {
  version: string;
  stage: string;
  aliases: string;
  status: string;
  run_id: string;
  source: string;
  created: string;
  updated: string;
  description: string;
}

export interface ArtifactRow {
  path: string;
  name: string;
  depth: number;
  is_dir: boolean;
  size: string;
  previewable: boolean;
}

export interface UploadedRow {
  id: string;
  name: string;
  framework: string;
  status: string;
  sha: string;
  source: string;
  created: string;
}

export interface Preview {
  path?: string;
  text?: string;
  size?: string;
  truncated?: boolean;
  note?: string;
}

/** Why each registry action is not allowed for the caller's role ("" or absent when it is), and a
 * note saying so in words; empty until a workspace is chosen. */
export interface RegistryRights {
  connect?: string;
  attach?: string;
  detach?: string;
  note?: string;
}

/** The last upload asked for in this panel: being started, moving, ready, or failed. */
export interface UploadStatus {
  state: "idle" | "starting" | "running" | "done" | "failed";
  message: string;
  model_id: number | null;
}

/** One upload in flight or just ended, as display text; `fraction` (0 to 1) drives its bar. */
export interface UploadJobRow {
  id: string;
  name: string;
  file: string;
  status: "uploading" | "ready" | "error" | "unknown";
  label: string;
  fraction: number | null;
  percent: string;
  bytes: string;
  rate: string;
  time_left: string;
  attempts: string;
  error: string;
  sha: string;
  note: string;
  cancellable: boolean;
}

export interface PanelState {
  workspace_id: number | null;
  registry_id: string | null;
  model_name: string | null;
  version: string | null;
  artifact_path: string | null;
  model_query: string;
  model_sort: "name" | "updated";
  model_sort_descending: boolean;
  models_offset: number;
  upload_name: string;
  upload_framework: string;
  upload_requirements: string;
  upload_visibility: string;
  upload_workspace_id: number | null;
  workspace_options: Option[];
  registry_options: Option[];
  other_registries: Option[];
  registry_rights: RegistryRights;
  model_rows: ModelRow[];
  models_loaded: number;
  models_matched: number;
  models_more: boolean;
  page_size: number;
  version_rows: VersionRow[];
  versions_total: number;
  artifact_rows: ArtifactRow[];
  artifacts_total: number;
  preview: Preview;
  preview_available: boolean;
  upload_frameworks: string[];
  upload_input_schema: [string, string][];
  upload_output_schema: [string, string][];
  upload_notes: string[];
  upload_name_problem: string;
  upload_status: UploadStatus;
  upload_job_rows: UploadJobRow[];
  uploaded_rows: UploadedRow[];
  uploaded_total: number;
  busy: string[];
  error: string;
  message: string;
}

export type Model = AnyModel<PanelState>;

/** Set traits the user changed and send them to the kernel in one update. */
export function update(model: Model, changes: Partial<PanelState>): void {
  for (const [key, value] of Object.entries(changes)) {
    model.set(key as keyof PanelState, value as never);
  }
  model.save_changes();
}

/** Call `render` now and whenever one of `keys` changes. */
export function watch(model: Model, keys: (keyof PanelState)[], render: () => void): void {
  for (const key of keys) model.on(`change:${key}`, render);
  render();
}
