"""The panel in a real browser: Debian's Chromium, driven by Playwright, on JupyterLab 4 and
Notebook 7 started by the tests, with the notebook a new user opens first.

Each test runs the notebook as shipped (its Python cells choose and upload too), then starts
over in the page: workspace, registry, a search, a model, a version, a file preview and Upload,
and reads the new model id both in the page and from the kernel. The upload test does the same
on a registry behind a throttling proxy, so its progress can be watched, another upload
started meanwhile and cancelled. Every step leaves a screenshot in
``test-output/screenshots/<test>/``.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect
from support.notebook_page import NotebookPage

NOTEBOOK = "registry_browser.ipynb"
PANEL_VIEWPORT = {"width": 1200, "height": 2400}


def _run_as_shipped(notebook: NotebookPage, server) -> object:
    """Open the notebook, run every cell, and return the panel the first cell shows."""
    notebook.open(server.notebook_url(NOTEBOOK))
    notebook.shot("opened")
    assert notebook.run_all() == []
    panel = notebook.page.get_by_test_id("registry-browser")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("aria-busy", "false")
    notebook.shot("ran-all-cells", panel)
    return panel


def _choose_workspace_and_registry(notebook: NotebookPage, panel, user) -> None:
    """Start over from no workspace, then pick the user's workspace and registry."""
    workspace = panel.get_by_label("Workspace", exact=True)
    registry = panel.get_by_label("Registry", exact=True)
    workspace.select_option(value="")
    expect(registry).to_be_disabled()
    expect(panel.get_by_test_id("models").locator("tr[data-key]")).to_have_count(0)
    workspace.select_option(value=str(user.workspace_id))
    expect(registry.locator(f'option[value="{user.registry_id}"]')).to_have_count(1)
    notebook.shot("workspace-chosen", workspace)
    registry.select_option(value=user.registry_id)
    expect(panel.get_by_test_id("models").locator("tr[data-key]").first).to_be_visible()
    notebook.shot("registry-chosen", registry)


def _choose_model(notebook: NotebookPage, panel, query: str, name: str) -> None:
    models = panel.get_by_test_id("models")
    panel.get_by_label("Search models").fill(query)
    row = models.locator("tr[data-key]").filter(has_text=name)
    expect(models.locator("tr[data-key]")).to_have_count(1)
    expect(row).to_have_count(1)
    notebook.shot("model-searched", models)
    row.click()
    expect(row).to_have_attribute("aria-current", "true")
    expect(panel.get_by_test_id("versions").locator("tr[data-key]").first).to_be_visible()
    notebook.shot("model-chosen", panel.get_by_test_id("versions"))


def _drive_the_panel(notebook: NotebookPage, panel, user, mlflow_seed) -> int:
    """Every step in the page; returns the model id the page shows after Upload."""
    _choose_workspace_and_registry(notebook, panel, user)
    _choose_model(notebook, panel, "wine", mlflow_seed.wine_model)

    versions = panel.get_by_test_id("versions")
    expect(versions.locator("tr[data-key]")).to_have_count(len(mlflow_seed.wine_versions))
    versions.locator('tr[data-key="1"]').click()
    artifacts = panel.get_by_test_id("artifacts")
    expect(artifacts.locator('li[data-path="MLmodel"]')).to_be_visible()
    notebook.shot("version-chosen", artifacts)

    panel.get_by_role("button", name="Preview MLmodel").click()
    preview = panel.get_by_test_id("preview")
    expect(preview.locator("pre")).to_contain_text("flavors:")
    expect(preview.locator("pre")).to_contain_text("sklearn")
    notebook.shot("artifact-previewed", preview)

    upload = panel.get_by_test_id("upload")
    expect(upload.get_by_label("Model name")).to_have_value("wine-quality")
    expect(upload.get_by_label("Framework")).to_have_value("sklearn")
    expect(upload.get_by_label("Requirements")).to_have_value(re.compile("scikit-learn"))
    expect(upload.get_by_label("Visibility")).to_have_value("private")
    expect(upload.get_by_label("Target workspace")).to_have_value(str(user.workspace_id))
    notebook.shot("upload-form", upload)
    result = panel.get_by_test_id("upload-result")
    earlier = result.text_content() or ""  # the notebook's own upload() may show its id here
    upload.get_by_role("button", name="Upload", exact=True).click()
    expect(result).not_to_have_text(earlier, timeout=120_000)
    expect(result).to_have_text(re.compile(r"^\d+$"))
    model_id = int(result.inner_text())
    job = panel.get_by_test_id("uploads").locator(f'li[data-key="{model_id}"]')
    expect(job).to_have_attribute("data-status", "ready", timeout=120_000)
    expect(job.get_by_test_id("upload-sha")).to_have_text(re.compile(r"^[0-9a-f]{12}$"))
    uploaded = panel.get_by_test_id("uploaded")
    row = uploaded.locator(f'tr[data-key="{model_id}"]')
    expect(row).to_contain_text("wine_quality v1")
    expect(row).to_contain_text("ready")
    notebook.shot("uploaded", uploaded)
    return model_id


def _kernel_sees(notebook: NotebookPage, model_id: int) -> None:
    """What was clicked in the page is what Python reads (printed by a new cell)."""
    printed = notebook.run_code(
        "print(f'UPLOAD={browser.last_upload_id} MODEL={browser.model_name} "
        "VERSION={browser.version}')"
    )
    assert printed.strip() == f"UPLOAD={model_id} MODEL=wine_quality VERSION=1"
    notebook.shot("kernel-read")


def test_panel_in_jupyterlab(jupyter_lab, notebook, notebook_user, mlflow_seed):
    panel = _run_as_shipped(notebook, jupyter_lab)
    model_id = _drive_the_panel(notebook, panel, notebook_user, mlflow_seed)
    _kernel_sees(notebook, model_id)
    assert notebook.dialogs == [] and notebook.page_errors == []


def test_panel_in_notebook_7(jupyter_notebook, notebook, notebook_user, mlflow_seed):
    panel = _run_as_shipped(notebook, jupyter_notebook)
    model_id = _drive_the_panel(notebook, panel, notebook_user, mlflow_seed)
    _kernel_sees(notebook, model_id)
    assert notebook.dialogs == [] and notebook.page_errors == []


def test_html_in_names_is_shown_as_text(jupyter_lab, notebook, notebook_user, mlflow_seed):
    """A model named like an <img> tag with a <script> description runs nothing."""
    panel = _run_as_shipped(notebook, jupyter_lab)
    page = notebook.page
    _choose_workspace_and_registry(notebook, panel, notebook_user)
    _choose_model(notebook, panel, "<img", mlflow_seed.html_model)
    models = panel.get_by_test_id("models")
    expect(models.locator("td").filter(has_text=mlflow_seed.html_model).first).to_have_text(
        mlflow_seed.html_model
    )
    versions = panel.get_by_test_id("versions")
    expect(versions).to_contain_text(f"Versions of {mlflow_seed.html_model}")
    versions.locator("tr[data-key]").first.click()
    expect(panel.get_by_test_id("upload").get_by_label("Model name")).not_to_have_value("")
    printed = notebook.run_code("print(browser.models['description'].iloc[0])")
    assert printed.strip() == mlflow_seed.html_description
    notebook.shot("html-as-text", panel)
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("script", has_text="alert('desc')").count() == 0
    assert notebook.dialogs == [], notebook.dialogs
    assert notebook.page_errors == []


def _save_panel_picture(notebook: NotebookPage, panel) -> None:
    """The whole panel with one upload ready and one in flight, in a page tall enough to hold
    it (JupyterLab scrolls inside the notebook, so a taller panel would be cut): the README's
    picture comes from here."""
    viewport = notebook.page.viewport_size
    notebook.page.set_viewport_size(PANEL_VIEWPORT)
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(notebook.screenshot_dir / "panel.png"))
    notebook.page.set_viewport_size(viewport)


def _start_upload(panel, name: str) -> int:
    """Press Upload under ``name``; the id the form shows as soon as the service has it."""
    upload = panel.get_by_test_id("upload")
    upload.get_by_label("Model name").fill(name)
    result = panel.get_by_test_id("upload-result")
    earlier = result.text_content() or ""
    upload.get_by_role("button", name="Upload", exact=True).click()
    expect(result).not_to_have_text(earlier)
    expect(result).to_have_text(re.compile(r"^\d+$"))
    return int(result.inner_text())


def _wait_until_moving(notebook: NotebookPage, job) -> None:
    """The job's bar is determinate and part way, and its figures say how far and how fast."""
    notebook.page.wait_for_function(
        "el => { const bar = el.querySelector('progress');"
        " return bar.hasAttribute('value') && bar.value > 0 && bar.value < 1; }",
        arg=job.element_handle(),
        timeout=60_000,
        polling=100,
    )
    figures = job.locator(".wru-upload-figures")
    expect(figures).to_have_text(re.compile(r"^\d+% · [\d.]+ \w+ of 40\.0 MiB · [\d.]+ \w+/s · "))
    expect(figures).to_contain_text("left")


def test_upload_progress_and_cancel_in_jupyterlab(
    jupyter_lab, notebook, notebook_user, mlflow_seed, slow_registry
):
    """A 40 MiB file through a throttled registry: the bar moves, the panel browses meanwhile,
    the upload ends ready with MLflow's sha256; a second one is cancelled part way."""
    large = mlflow_seed.large_file
    panel = _run_as_shipped(notebook, jupyter_lab)
    panel.get_by_label("Workspace", exact=True).select_option(value=str(slow_registry.workspace_id))
    registry = panel.get_by_label("Registry", exact=True)
    expect(registry.locator(f'option[value="{slow_registry.registry_id}"]')).to_have_count(1)
    registry.select_option(value=slow_registry.registry_id)
    _choose_model(notebook, panel, "nested", large.model_name)
    panel.get_by_test_id("versions").locator(f'tr[data-key="{large.version}"]').click()
    upload = panel.get_by_test_id("upload")
    expect(upload.locator(".wru-file-choice")).to_contain_text(large.relative_path)

    uploads = panel.get_by_test_id("uploads")
    ready_id = _start_upload(panel, "big-ready")
    ready = uploads.locator(f'li[data-key="{ready_id}"]')
    expect(ready).to_have_attribute("data-status", "uploading")
    _wait_until_moving(notebook, ready)
    expect(ready.get_by_role("button", name="Cancel the upload")).to_be_enabled()
    notebook.shot("upload-moving", uploads)

    # The panel answers while the bytes move: a preview, read from the same registry.
    panel.get_by_role("button", name="Preview config/params.json").click()
    expect(panel.get_by_test_id("preview").locator("pre")).not_to_be_empty()
    assert ready.get_attribute("data-status") == "uploading", "the upload ended too soon"
    notebook.shot("previewed-meanwhile", panel.get_by_test_id("preview"))

    expect(ready).to_have_attribute("data-status", "ready", timeout=120_000)
    expect(ready.get_by_test_id("upload-sha")).to_have_text(large.sha256[:12])
    expect(ready.get_by_role("button", name="Cancel the upload")).to_be_hidden()

    cancelled_id = _start_upload(panel, "big-cancelled")
    cancelled = uploads.locator(f'li[data-key="{cancelled_id}"]')
    _wait_until_moving(notebook, cancelled)
    notebook.shot("one-ready-one-moving", uploads)
    _save_panel_picture(notebook, panel)
    cancelled.get_by_role("button", name="Cancel the upload").click()
    expect(cancelled).to_have_attribute("data-status", "error")
    expect(cancelled.locator(".wru-upload-outcome")).to_contain_text(
        f"cancelled by {notebook_user.email}"
    )
    expect(cancelled.locator("progress")).to_be_hidden()
    uploaded = panel.get_by_test_id("uploaded")
    expect(uploaded.locator(f'tr[data-key="{cancelled_id}"]')).to_contain_text("error")
    expect(uploaded.locator(f'tr[data-key="{ready_id}"]')).to_contain_text(large.sha256[:12])
    notebook.shot("cancelled", uploads)

    printed = notebook.run_code(
        "shown = browser.uploads.set_index('model_version_id')\n"
        f"print(shown.loc[{ready_id}, 'sha'], shown.loc[{cancelled_id}, 'status'])"
    )
    assert printed.strip() == f"{large.sha256} error"
    assert notebook.dialogs == [] and notebook.page_errors == []


def test_keys_stay_in_the_panel_and_theme_follows_jupyterlab(notebook, jupyter_lab, notebook_user):
    panel = _run_as_shipped(notebook, jupyter_lab)
    page = notebook.page
    cells = page.locator(".jp-Notebook .jp-Cell")
    before = cells.count()
    search = panel.get_by_label("Search models")
    search.fill("")
    search.focus()
    page.keyboard.type("abmdd")  # JupyterLab's command-mode keys: insert, markdown, delete
    expect(search).to_have_value("abmdd")
    assert cells.count() == before
    search.fill("wine")
    row = panel.get_by_test_id("models").locator("tr[data-key]").first
    expect(row).to_be_visible()
    row.focus()
    for key in ("a", "b", "m", "d", "d"):  # on a focused row, not only in text boxes
        page.keyboard.press(key)
    assert cells.count() == before
    page.keyboard.press("Enter")
    expect(row).to_have_attribute("aria-current", "true")
    notebook.shot("keyboard", panel)

    def text_colour() -> str:
        return panel.evaluate("e => getComputedStyle(e).color")

    light = text_colour()
    page.evaluate(
        "window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    try:
        page.wait_for_function(
            "([e, before]) => getComputedStyle(e).color !== before",
            arg=[panel.element_handle(), light],
        )
        notebook.shot("dark-theme", panel)
    finally:
        page.evaluate(
            "window.jupyterapp.commands.execute('apputils:change-theme', "
            "{theme: 'JupyterLab Light'})"
        )
    page.wait_for_function(
        "([e, before]) => getComputedStyle(e).color === before",
        arg=[panel.element_handle(), light],
    )


def test_a_collaborator_is_told_why_registry_actions_are_off(
    jupyter_lab, notebook, notebook_user, alice, mlflow_seed
):
    """In another user's workspace the notebook's user is a collaborator: Attach and Detach
    are disabled, the connect form is hidden, and the panel says why, in words."""
    shared = alice.client.create_workspace("ui-collaboration")
    alice.client.create_registry("alices ui mlflow", mlflow_seed.url, workspace_id=shared)
    alice.client.add_user(shared, notebook_user.email)
    panel = _run_as_shipped(notebook, jupyter_lab)
    rights = panel.get_by_test_id("registry-rights")
    detach = panel.get_by_role("button", name="Detach", exact=True)
    attach = panel.get_by_role("button", name="Attach", exact=True)
    connect = panel.get_by_role("button", name="Connect registry", exact=True)

    panel.get_by_label("Workspace", exact=True).select_option(value=str(shared))
    expect(rights).to_have_text(
        "You are a collaborator in this workspace: you can browse and upload; connecting, "
        "attaching and detaching registries needs the owner role."
    )
    registry = panel.get_by_label("Registry", exact=True)
    expect(registry.locator("option").filter(has_text="alices ui mlflow")).to_have_count(1)
    registry.select_option(label="alices ui mlflow (mlflow)")
    expect(panel.get_by_test_id("models").locator("tr[data-key]").first).to_be_visible()
    expect(detach).to_be_disabled()
    expect(detach).to_have_attribute("title", re.compile("needs the owner role"))
    expect(attach).to_be_disabled()
    expect(connect).to_be_hidden()
    notebook.shot("collaborator", panel.get_by_test_id("registry"))

    panel.get_by_label("Workspace", exact=True).select_option(value=str(notebook_user.workspace_id))
    # Her own workspace: no role note; at most the word on alice's registry, which she may
    # use in the shared workspace but not attach here.
    expect(rights).not_to_contain_text("collaborator")
    expect(connect).to_be_visible()
    registry.select_option(value=notebook_user.registry_id)
    expect(detach).to_be_enabled()
    assert notebook.dialogs == [] and notebook.page_errors == []
