"""Widgets the screens share: the verdict banner, picture boxes, field lists, tables."""

from __future__ import annotations

import tkinter
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from tkinter import ttk
from typing import Any, Literal

import customtkinter as ctk
import numpy as np
from PIL import Image, ImageTk

from .theme import DISABLED, IDLE_LOOK, MUTED, Fonts, Look


class VerdictBanner(ctk.CTkFrame):
    """The decision at a glance: a coloured band with a symbol, a headline in capitals, the
    sentence that says what to do, and who the candidate is."""

    def __init__(self, master: Any, fonts: Fonts) -> None:
        super().__init__(master, corner_radius=10, fg_color=IDLE_LOOK.background, height=118)
        self.grid_propagate(False)
        self.columnconfigure(1, weight=1)
        self.symbol = ctk.CTkLabel(self, text="", font=fonts.banner, width=70)
        self.symbol.grid(row=0, column=0, rowspan=3, padx=(18, 6), pady=8, sticky="ns")
        self.headline = ctk.CTkLabel(self, text="", font=fonts.banner, anchor="w")
        self.headline.grid(row=0, column=1, sticky="ew", padx=6, pady=(6, 0))
        self.sentence = ctk.CTkLabel(self, text="", font=fonts.bold, anchor="w", justify="left")
        self.sentence.grid(row=1, column=1, sticky="ew", padx=8)
        self.who = ctk.CTkLabel(self, text="", font=fonts.base, anchor="w")
        self.who.grid(row=2, column=1, sticky="ew", padx=8, pady=(0, 6))
        self._look: Look | None = None
        self.show(IDLE_LOOK, "", "")

    def show(self, look: Look, headline: str, sentence: str, who: str = "") -> None:
        # Only what changed: every customtkinter configure redraws its canvas (a few ms
        # each), and a check-in reports a dozen steps in the same colours.
        if look != self._look:
            self._look = look
            self.configure(fg_color=look.background)
            for label in (self.symbol, self.headline, self.sentence, self.who):
                label.configure(text_color=look.foreground, fg_color=look.background)
            self.symbol.configure(text=look.symbol)
        for label, text in ((self.headline, headline), (self.sentence, sentence),
                            (self.who, who)):
            if label.cget("text") != text:
                label.configure(text=text)

    @property
    def text(self) -> str:
        """Everything the banner says (tests and screen readers)."""
        return " · ".join(str(w.cget("text")) for w in (self.headline, self.sentence, self.who))


class PictureBox(tkinter.Label):
    """A fixed-size picture: a live preview repainted in place, or a still shown once."""

    def __init__(self, master: Any, size: tuple[int, int], fonts: Fonts,
                 background: str = "#20262e") -> None:
        super().__init__(master, bg=background, fg="#e4e7eb", font=fonts.tk_base,
                         wraplength=size[0] - 20, justify="center", compound="center",
                         borderwidth=0, highlightthickness=0)
        self.box_size = size
        self._photo: ImageTk.PhotoImage | None = None
        # Always an image of the box's size: a Tk label without one measures its width and
        # height in characters, and an empty box would swallow the screen.
        self._blank = ImageTk.PhotoImage(Image.new("RGB", size, background), master=self)
        self.configure(image=self._blank)

    def paste(self, pixels: np.ndarray) -> None:
        """Repaint with an RGB array of exactly ``size`` (the camera preview: no new image
        object per frame, so nothing piles up for the garbage collector)."""
        image = Image.fromarray(pixels)
        if self._photo is None or image.size != self.box_size:
            self.show(image)
            return
        self._photo.paste(image)

    def show(self, image: Image.Image | None, message: str = "") -> None:
        """A still fitted into the box (aspect kept), or a message on an empty box."""
        if image is None:
            self._photo = None
            self.configure(image=self._blank, text=message)
            return
        fitted = fit(image, self.box_size)
        self._photo = ImageTk.PhotoImage(fitted, master=self)
        self.configure(image=self._photo, text="")

    @property
    def showing(self) -> bool:
        return self._photo is not None


def enable(button: Any, on: bool, colour: str) -> None:
    """customtkinter greys only the text of a disabled button; grey the button too, so an
    action that is not allowed (admitting a refused candidate) never looks available."""
    button.configure(state="normal" if on else "disabled",
                     fg_color=colour if on else DISABLED)


def fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.mode != "RGB":
        image = image.convert("RGB")
    w, h = size
    scale = min(w / image.width, h / image.height)
    scaled = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                          Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", size, (32, 38, 46))
    canvas.paste(scaled, ((w - scaled.width) // 2, (h - scaled.height) // 2))
    return canvas


class FieldList(ctk.CTkFrame):
    """Label: value rows, created once; ``set`` fills them (empty rows are blanked)."""

    def __init__(self, master: Any, fonts: Fonts, rows: int, label_width: int = 130,
                 wrap: int = 300) -> None:
        super().__init__(master, fg_color="transparent")
        self.columnconfigure(1, weight=1)
        self._rows: list[tuple[Any, Any]] = []
        for i in range(rows):
            name = ctk.CTkLabel(self, text="", font=fonts.small, text_color=MUTED, anchor="nw",
                                width=label_width, justify="left")
            value = ctk.CTkLabel(self, text="", font=fonts.bold, anchor="nw", justify="left",
                                 wraplength=wrap)
            name.grid(row=i, column=0, sticky="nw", padx=(0, 8), pady=1)
            value.grid(row=i, column=1, sticky="nw", pady=1)
            self._rows.append((name, value))

    def set(self, rows: Sequence[tuple[str, str]]) -> None:
        for i, (name, value) in enumerate(self._rows):
            label, text = rows[i] if i < len(rows) else ("", "")
            name.configure(text=label)
            value.configure(text=text)

    def values(self) -> dict[str, str]:
        return {str(n.cget("text")): str(v.cget("text")) for n, v in self._rows if n.cget("text")}


@dataclass(frozen=True)
class Column:
    key: str  # catalogue key of the heading
    width: int
    anchor: Literal["w", "e", "center"] = "w"
    stretch: bool = False


class DataTable(ctk.CTkFrame):
    """A ttk.Treeview list with large rows; keyboard: arrows move, the view handles Enter."""

    def __init__(self, master: Any, fonts: Fonts, columns: Sequence[Column], *,
                 height: int = 12, style: str = "Desk.Treeview") -> None:
        super().__init__(master, fg_color="transparent")
        sheet = ttk.Style(self)
        sheet.configure(style, font=fonts.tk_base, rowheight=30)
        sheet.configure(f"{style}.Heading", font=fonts.tk_bold)
        self.columns = list(columns)
        self.tree = ttk.Treeview(self, columns=[c.key for c in columns], show="headings",
                                 height=height, style=style, selectmode="browse")
        for c in columns:
            self.tree.column(c.key, width=c.width, anchor=c.anchor, stretch=c.stretch)
        bar = ttk.Scrollbar(self, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=bar.set)
        self.tree.grid(row=0, column=0, sticky="nsew")
        bar.grid(row=0, column=1, sticky="ns")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)

    def headings(self, texts: Any) -> None:
        for c in self.columns:
            self.tree.heading(c.key, text=texts(c.key))

    def colour(self, tag: str, foreground: str) -> None:
        self.tree.tag_configure(tag, foreground=foreground)

    def fill(self, rows: Sequence[tuple[str, Sequence[str], str]],
             children: Mapping[str, Sequence[Sequence[str]]] | None = None,
             child_tag: str = "") -> None:
        """(row id, cell texts, tag) for every row, replacing what was there; ``children``:
        lines shown (open) under a row, e.g. a candidate's check-in history."""
        selected = self.selected()
        self.tree.delete(*self.tree.get_children())
        for iid, cells, tag in rows:
            self.tree.insert("", "end", iid=iid, values=list(cells), tags=(tag,) if tag else ())
            for n, line in enumerate((children or {}).get(iid, ())):
                self.tree.insert(iid, "end", iid=f"{iid}/{n}", values=list(line),
                                 tags=(child_tag,) if child_tag else ())
            if children and children.get(iid):
                self.tree.item(iid, open=True)
        keep = selected if selected and self.tree.exists(selected) else (
            rows[0][0] if rows else None)
        if keep is not None:
            self.tree.selection_set(keep)
            # The keyboard moves from the focus item: without one, Up/Down did nothing.
            self.tree.focus(keep)

    def fit(self, font: Any, heading_font: Any, texts: Any) -> None:
        """Each fixed column as wide as its widest cell or heading (nothing cut off: "nghiêm
        trọ…"); the stretching column takes what is left."""
        from tkinter import font as tkfont

        cell, head = tkfont.Font(font=font), tkfont.Font(font=heading_font)
        rows = self.rows()
        fixed = 0
        for i, c in enumerate(self.columns):
            if c.stretch:
                continue
            widest = max([head.measure(texts(c.key))]
                         + [cell.measure(r[i]) for r in rows if i < len(r)])
            width = max(c.width, widest + 24)
            self.tree.column(c.key, width=width)
            fixed += width
        # The stretching column gets what is left of the visible width, never pushing the
        # table past the window's edge (a Treeview asks for the sum of its columns).
        self.update_idletasks()
        room = self.winfo_width() - 24  # the scrollbar
        for c in self.columns:
            if c.stretch and room > 0:
                self.tree.column(c.key, width=max(120, room - fixed), minwidth=60)

    def selected(self) -> str | None:
        chosen = self.tree.selection()
        return str(chosen[0]) if chosen else None

    def select(self, iid: str) -> None:
        if self.tree.exists(iid):
            self.tree.selection_set(iid)
            self.tree.focus(iid)
            self.tree.see(iid)

    def rows(self) -> list[list[str]]:
        return [[str(v) for v in self.tree.item(i, "values")] for i in self.tree.get_children()]

    def child_rows(self, iid: str) -> list[list[str]]:
        """The lines shown under row ``iid``."""
        if not self.tree.exists(iid):
            return []
        return [[str(v) for v in self.tree.item(i, "values")]
                for i in self.tree.get_children(iid)]


def fold(text: str) -> str:
    """For search: no diacritics ("Nguyễn" → "nguyen", "Đỗ" → "do"), no case, NFC-safe."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())
