"""Image studio: prompt → images, or an uploaded / earlier image → an edit, with a gallery and a recent strip."""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .._safe import text_html
from ._entries import entry_label, entry_of, entry_thumbs, history_entries, outputs
from ._media import image_widget
from ._panel import Call, Panel
from ._pickers import chosen, model_info, model_picker, set_options
from ._uploads import clear_upload, save_copy, uploaded

if TYPE_CHECKING:
    from .._session import Session
    from ..history import HistoryEntry
    from ..results import ImageResult

IMAGE_KINDS = ("image", "edit")
NO_SOURCE = ""
UPLOAD_SOURCE = "upload"


class ImagePanel(Panel):
    """Generate or edit images; every option offered comes from the chosen model's capabilities."""

    kind = "image"

    def __init__(self, session: Session | None = None, *, save_dir: str | Path = ".", recent: int = 8) -> None:
        super().__init__(session)
        self.save_dir = Path(save_dir)
        self.recent_count = recent
        self.result: ImageResult | None = None
        full = w.Layout(width="100%")
        self.prompt = w.Textarea(placeholder="Describe the image…", layout=w.Layout(width="100%", height="5em"))
        self.negative = w.Textarea(placeholder="Negative prompt: what to avoid (optional)",
                                   layout=w.Layout(width="100%", height="3em"))
        self.model = model_picker(self.session, "image")
        self.size = w.Dropdown(description="Size", layout=w.Layout(width="220px"))
        self.n = w.Dropdown(description="Images", options=[1], value=1, layout=w.Layout(width="160px"))
        self.seed = w.Text(description="Seed", placeholder="random", layout=w.Layout(width="200px"))
        self.quality = w.Dropdown(description="Quality", layout=w.Layout(width="200px"))
        self.source = w.Dropdown(description="Edit", options=[("nothing: generate new", NO_SOURCE)],
                                 value=NO_SOURCE, layout=w.Layout(width="max-content", min_width="320px"))
        self.upload = w.FileUpload(accept="image/*", multiple=True, description="Upload image")
        self.mask = w.FileUpload(accept="image/png", multiple=False, description="Mask (PNG)")
        self.generate = w.Button(description="Generate", button_style="primary", icon="magic")
        self.price = w.HTML(layout=w.Layout(min_height="1.2em"))
        self.gallery = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.gallery.add_class("tokenhot-gallery")
        self.strip = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.strip.add_class("tokenhot-recent")
        self.busy_widgets = [self.generate, self.model]

        self.follow(self.model, self._model_changed)
        self.upload.observe(self.shielded(self._upload_changed), names="value")
        self.generate.on_click(self.shielded(self.start))
        self.refresh_recent()
        self.priced(self.price, [self.prompt, self.negative, self.model, self.size, self.n, self.seed, self.quality,
                                 self.source, self.mask], self._next_call)
        self.children = [
            w.HTML("<b>Image studio</b>"),
            self.prompt,
            self.negative,
            w.HBox([self.model, self.size, self.n], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.seed, self.quality], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.source, self.upload, self.mask], layout=w.Layout(flex_flow="row wrap")),
            self.generate,
            self.price,
            self.status,
            self.error_box,
            self.gallery,
            w.HTML("<small>Recent</small>"),
            self.strip,
        ]
        self.layout = full

    # -- options ---------------------------------------------------------------------------------
    def _model_changed(self, _change: object = None) -> None:
        """Offer only what the model takes: sizes, how many, seed, negative prompt, quality, mask."""
        info = model_info(self.model.value)
        set_options(self.size, info.choices("sizes"), prefer=info.defaults.get("size"))
        max_n = int(info.capabilities.get("max_n") or 1)
        set_options(self.n, range(1, min(max_n, 8) + 1), blank=None, prefer=1)
        set_options(self.quality, info.choices("quality"))
        self.seed.layout.display = None if info.can("seed") else "none"
        self.negative.layout.display = None if info.can("negative_prompt") else "none"
        can_edit = info.can("edit")
        for widget in (self.source, self.upload):
            widget.layout.display = None if can_edit else "none"
        self.mask.layout.display = None if info.can("mask") else "none"
        self.generate.description = "Edit" if info.can("edit_only") else "Generate"

    def _upload_changed(self, _change: object = None) -> None:
        if self.upload.value:
            self._set_sources(select=UPLOAD_SOURCE)

    def _set_sources(self, entries: list[HistoryEntry] | None = None, select: str | None = None) -> None:
        opts: list[tuple[str, str]] = [("nothing: generate new", NO_SOURCE)]
        if self.upload.value:
            names = ", ".join(f[1] for f in uploaded(self.upload))
            opts.append((f"uploaded: {names}", UPLOAD_SOURCE))
        if entries is None:
            entries = history_entries(self.session, IMAGE_KINDS, ("ok",), limit=20)
        for entry in entries:
            for i, (path, _art) in enumerate(outputs(self.session, entry, ("image",))):
                opts.append((entry_label(entry, 40) + (f" [{i + 1}]" if i else ""), str(path)))
        current = select if select is not None else self.source.value
        self.source.options = opts
        self.source.value = current if current in [v for _, v in opts] else NO_SOURCE

    # -- work --------------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The keyword arguments the session gets (only what the user set or the model needs)."""
        info = model_info(self.model.value)
        kw: dict[str, Any] = {"model": self.model.value}
        if chosen(self.size) is not None:
            kw["size"] = chosen(self.size)
        if self.n.value and self.n.value != 1:
            kw["n"] = int(self.n.value)
        seed = self.seed.value.strip()
        if seed and info.can("seed"):
            try:
                kw["seed"] = int(seed)
            except ValueError:  # (the text as typed, cut: a pasted page made the error box a page long)
                shown = seed if len(seed) <= 40 else seed[:39] + "…"
                raise ValueError(f"The seed must be a whole number such as 42, not {shown!r}.") from None
        if chosen(self.quality) is not None:
            kw["quality"] = chosen(self.quality)
        negative = self.negative.value.strip()
        if negative and info.can("negative_prompt"):
            kw["negative"] = negative
        return kw

    def _next_call(self) -> Call:
        """The call a click on Generate (or Edit) would make now, for its price."""
        kw = self.params()
        images, mask = self._edit_inputs()
        prompt = self.prompt.value.strip() or "an image"  # (per-image prices: the words change nothing)
        if images:
            return "edit", (images, prompt), {**kw, **({"mask": mask} if mask is not None else {})}
        return "image", (prompt,), kw

    def _edit_inputs(self) -> tuple[list[bytes | Path], bytes | None]:
        if self.source.value == UPLOAD_SOURCE:
            images: list[bytes | Path] = [data for data, _name, _mime in uploaded(self.upload)]
        elif self.source.value:
            images = [Path(self.source.value)]
        else:
            images = []
        masks = uploaded(self.mask) if self.mask.layout.display != "none" else []
        return images, (masks[0][0] if masks else None)

    def start(self) -> None:
        """Generate (or edit) on a worker thread; the gallery fills when it is done."""
        if not self.keyless((self.prompt, "prompt"), (self.negative, "negative prompt"), (self.seed, "seed")):
            return
        prompt = self.required(self.prompt, "Write a prompt first: it says what the image should show.")
        if not prompt:
            return
        try:
            kw = self.params()
            images, mask = self._edit_inputs()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        if not images and model_info(self.model.value).can("edit_only"):
            self.show_error("This model only edits images: upload an image or pick an earlier one under Edit.")
            return
        session = self.session
        if images:
            if mask is not None:
                kw["mask"] = mask

            def work() -> Any:
                return session.edit(images, prompt, **kw)

            label = "Editing…"
        else:

            def work() -> Any:
                return session.image(prompt, **kw)

            label = "Generating…"
        self.run(work, self._show, label=label)

    def _show(self, result: ImageResult) -> None:
        self.result = result
        entry = entry_of(result)
        items = outputs(self.session, entry, ("image",)) if entry is not None else []
        tiles = []
        for i, (path, art) in enumerate(items):
            try:
                img: w.Widget = image_widget(path)
            except Exception as exc:  # (paid for and kept: the tile says so and Save still copies the file)
                from ..results._base import PixelBombError

                why = str(exc) if isinstance(exc, PixelBombError) else "the file is not an image PIL can read"
                img = w.HTML(f"<small>Not shown: {text_html(why)}</small>")
            save = w.Button(description="Save", icon="download", layout=w.Layout(width="90px"))
            name = f"tokenhot-{entry.id if entry is not None else 'image'}-{i + 1}{path.suffix}"
            save.on_click(self.shielded(functools.partial(self._save, path, name)))
            caption = w.HTML(f"<small>{html.escape(art.get('mime', ''))} · {path.stat().st_size // 1024} KB</small>")
            tiles.append(w.VBox([img, w.HBox([save, caption])]))
        self.gallery.children = tiles
        self.say(f"{len(tiles)} image(s) · entry #{entry.id if entry is not None else '?'}")
        clear_upload(self.mask)
        self.refresh_recent()

    def _save(self, path: Path, name: str) -> None:
        try:
            dest = save_copy(path, name, self.save_dir)
        except OSError as exc:
            self.show_error(f"Could not save the image: {exc}")
            return
        self.say(f"Saved to {dest}")

    def on_show(self) -> None:
        self.refresh_recent()

    def refresh_recent(self) -> None:
        """The strip of recent generations and the 'edit an earlier image' choices, from the history."""
        entries = history_entries(self.session, IMAGE_KINDS, ("ok",), limit=20)
        self.strip.children = entry_thumbs(self.session, entries[: self.recent_count], ("image",), 96)
        self._set_sources(entries)
