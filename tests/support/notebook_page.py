"""A notebook open in JupyterLab or Notebook 7, driven through the page's own app object.

Both servers run with ``--expose-app-in-browser``, so ``window.jupyterapp`` is there: waiting
on its kernel is the only reliable "ready" (the toolbar's idle indicator reads idle before a
kernel exists), and its commands run cells the way the menus do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

KERNEL_READY = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const context = panel && panel.sessionContext;
  const kernel = context && context.session && context.session.kernel;
  return Boolean(context && context.isReady && kernel && kernel.status === 'idle'
    && kernel.connectionStatus === 'connected');
}"""

CODE_CELLS = """
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter((cell) => cell.model.type === 'code');
  const kernel = panel.sessionContext.session.kernel;
  const failed = cells.flatMap((cell) => cell.model.outputs.toJSON()
    .filter((output) => output.output_type === 'error')
    .map((output) => `${output.ename}: ${output.evalue}`));
"""

ALL_RUN = f"""() => {{
  {CODE_CELLS}
  const done = cells.every((cell) => cell.model.executionCount !== null);
  return (done || failed.length > 0) && kernel.status === 'idle';
}}"""

FAILURES = f"""() => {{
  {CODE_CELLS}
  return failed;
}}"""

APPEND_AND_RUN = """async (code) => {
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  notebook.activeCellIndex = notebook.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  notebook.activeCell.model.sharedModel.setSource(code);
  await app.commands.execute('notebook:run-cell');
  return notebook.widgets.length - 1;
}"""

CELL_RUN = """(index) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cell = panel.content.widgets[index];
  const kernel = panel.sessionContext.session.kernel;
  return cell.model.executionCount !== null && kernel.status === 'idle';
}"""


class NotebookPage:
    """One notebook in one browser page, with a screenshot per step."""

    def __init__(self, page: Any, screenshot_dir: Path) -> None:
        self.page = page
        self.screenshot_dir = screenshot_dir
        self.dialogs: list[str] = []
        self.page_errors: list[str] = []
        # Notebook 7.6 throws "reading 'schema'" while loading its settings, on any notebook.
        self.startup_errors: list[str] = []
        self._shots = 0
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open(self, url: str, timeout: float = 90_000) -> None:
        """Load the notebook and wait until its kernel is connected and idle; errors the page
        threw while loading are kept apart, in ``startup_errors``."""
        self.page.goto(url)
        self.page.wait_for_function(KERNEL_READY, timeout=timeout, polling=100)
        self.startup_errors, self.page_errors = self.page_errors, []

    def run_all(self, timeout: float = 180_000) -> list[str]:
        """Run every cell as Run > Run All Cells does; the errors the cells raised."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(ALL_RUN, timeout=timeout, polling=200)
        return self.page.evaluate(FAILURES)

    def run_code(self, code: str, timeout: float = 60_000) -> str:
        """Add a cell at the end, run it, and return the text it printed, read from the page."""
        index = self.page.evaluate(APPEND_AND_RUN, code)
        self.page.wait_for_function(CELL_RUN, arg=index, timeout=timeout, polling=100)
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(index)
        output = cell.locator(".jp-OutputArea-output")
        output.first.wait_for(timeout=timeout)
        return "\n".join(output.all_inner_texts())

    def shot(self, step: str, target: Any = None) -> Path:
        """Save a screenshot of the page (``target`` scrolled into view first) as the next step."""
        if target is not None:
            target.scroll_into_view_if_needed()
        self._shots += 1
        path = self.screenshot_dir / f"{self._shots:02d}-{step}.png"
        self.page.screenshot(path=str(path))
        return path
