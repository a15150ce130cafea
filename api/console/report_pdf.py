"""The evidence summary as a PDF, for examiners who file paper or cannot open HTML.

Drawn with fpdf2 (pure Python, no system libraries) from the same `EvidenceReport` as the
HTML, so the two never disagree. Text is set in DejaVu Sans, from matplotlib (the `eval`
extra) or the system's fonts, so citations keep their `§`, dashes and accents; without
either, the core Helvetica is used and characters outside Latin-1 become `?` rather than
failing the export.
The list of records stops at `LIST_LIMIT` rows and shows times to the second, so a row
fits a line of A4: records.csv has them all, to the microsecond.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import TableCellFillMode, XPos, YPos

from api.console.report import EvidenceReport, Tally

LIST_LIMIT = 500
INK, MUTED, NAVY = (27, 31, 35), (87, 96, 106), (16, 42, 67)
GOOD, GOOD_BG, BAD, BAD_BG = (46, 125, 50), (240, 255, 244), (198, 40, 40), (255, 235, 233)
HEADINGS = FontFace(emphasis="BOLD", fill_color=(246, 248, 250), color=INK)
STRIPES = (250, 251, 252)


def render_pdf(report: EvidenceReport) -> bytes:
    """The summary's bytes as an A4 PDF."""
    pdf = _Document(report)
    pdf.add_page()
    pdf.title_block()
    pdf.facts([("Period (UTC)", report.period_text), ("Filters", report.filters),
               ("Records in the period", _records(report)),
               ("Decisions", str(report.decisions))])
    pdf.verification()
    pdf.counts("Decisions by action", "Action", report.actions)
    pdf.counts("Principles that fired", "Principle", report.principles)
    pdf.counts("Rules served (citations)", "Citation", report.citations)
    note = ("A decision counts once for each rule cited by a principle that fired in it "
            "(violated, or revised away), as its record states.")
    if report.uncited:
        note += (f" {report.uncited} decision(s) with principles that fired were recorded "
                 "before verdicts carried citations and are not counted here.")
    pdf.note(note)
    pdf.monospace("How to verify offline", report.offline)
    pdf.listing()
    return bytes(pdf.output())


def _records(report: EvidenceReport) -> str:
    kinds = ", ".join(f"{t.count} {t.label}" for t in report.kinds)
    return f"{report.records} ({kinds})" if kinds else str(report.records)


# the system's DejaVu fonts (Debian and Ubuntu's fonts-dejavu-core, Fedora's), for an
# install without matplotlib (the `eval` extra)
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf")
SYSTEM_FONTS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


def _fonts() -> Path | None:
    """A folder holding the DejaVu fonts: matplotlib's (found without importing it, which
    is slow), else the system's; None when neither is there (core fonts, Latin-1)."""
    spec = importlib.util.find_spec("matplotlib")
    roots = (spec.submodule_search_locations or []) if spec else []
    folders = [Path(root) / "mpl-data" / "fonts" / "ttf" for root in roots]
    for folder in (*folders, *SYSTEM_FONTS):
        if all((folder / name).is_file() for name in FONT_FILES):
            return folder
    return None


class _Document(FPDF):
    """An A4 page with the report's title in the header and page numbers in the footer."""

    def __init__(self, report: EvidenceReport) -> None:
        super().__init__(format="A4")
        self.report = report
        self.set_margins(16, 16, 16)
        self.set_auto_page_break(auto=True, margin=16)
        self.set_title("Evidence summary")
        self.set_author(report.actor)
        self.set_creator("constitutional-supervisor")
        folder = _fonts()
        self.unicode = folder is not None
        if folder is not None:
            sans, bold, mono = (str(folder / name) for name in FONT_FILES)
            self.add_font("sans", "", sans)
            self.add_font("sans", "B", bold)
            self.add_font("mono", "", mono)
            self.sans, self.mono = "sans", "mono"
        else:
            self.sans, self.mono = "helvetica", "courier"

    def normalize_text(self, text: str) -> str:
        """Core fonts hold Latin-1 only: anything else becomes `?`, never an exception."""
        if not self.unicode:
            text = text.encode("latin-1", "replace").decode("latin-1")
        return super().normalize_text(text)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(self.sans, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"Evidence summary, {self.report.period_text}",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.sans, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")

    # -- blocks -------------------------------------------------------------------------

    def title_block(self) -> None:
        self.set_font(self.sans, "B", 20)
        self.set_text_color(*NAVY)
        self.cell(0, 10, "Evidence summary", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.sans, "", 9)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 5, f"Exported by {self.report.actor} at {self.report.generated} "
                        "from the constitutional supervisor's audit ledger.",
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*NAVY)
        self.set_line_width(0.8)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(5)

    def heading(self, text: str) -> None:
        if self.will_page_break(24):
            self.add_page()
        self.ln(3)
        self.set_font(self.sans, "B", 12)
        self.set_text_color(*NAVY)
        self.cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def facts(self, pairs: Sequence[tuple[str, str]], *, mono: frozenset[str] = frozenset()
              ) -> None:
        for label, value in pairs:
            self.set_font(self.sans, "", 9.5)
            self.set_text_color(*MUTED)
            self.cell(48, 5.5, label)
            self.set_font(*((self.mono, "", 8.5) if label in mono else (self.sans, "", 9.5)))
            self.set_text_color(*INK)
            self.multi_cell(0, 5.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def verification(self) -> None:
        verify = self.report.verify
        self.heading("Chain verification")
        ok = bool(verify.get("ok"))
        verdict = "Verified: ok" if ok else f"NOT verified: {verify.get('problem', '')}"
        if not ok and verify.get("bad_seq") is not None:
            verdict += f" (first bad record: seq {verify['bad_seq']})"
        self.set_fill_color(*(GOOD_BG if ok else BAD_BG))
        self.set_draw_color(*(GOOD if ok else BAD))
        self.set_line_width(0.4)
        self.set_text_color(*(GOOD if ok else BAD))
        self.set_font(self.sans, "B", 11)
        self.multi_cell(0, 8, "  " + verdict, border=1, fill=True,
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)
        pairs = [("Records checked", f"{verify.get('records')} in {self.report.ledger_dir}/"),
                 ("Signed checkpoints", f"{verify.get('checkpoints')} verified "
                                        f"({self.report.shipped_checkpoints} shipped)"),
                 ("Unsigned tail", f"{verify.get('unsigned_tail')} records after the last "
                                   "signed checkpoint"),
                 ("Trusted key", f"{self.report.public_key}, fingerprint "
                                 f"{verify.get('key_id')}"),
                 ("Head hash", str(verify.get("head", "")))]
        pairs += [("Warning", str(w)) for w in verify.get("warnings") or []]
        self.facts(pairs, mono=frozenset({"Head hash"}))
        self.note("Checked when this zip was made, over the files in it, with `supervisor "
                  "audit verify`'s own code. The steps below check it again on your machine.")

    def counts(self, title: str, label: str, tallies: Sequence[Tally]) -> None:
        self.heading(title)
        self.set_font(self.sans, "", 9.5)
        self.set_text_color(*INK)
        self.set_draw_color(208, 215, 222)
        self.set_fill_color(*STRIPES)
        self.set_line_width(0.2)
        rows = [(t.label, str(t.count)) for t in tallies] or [("none", "")]
        with self.table(col_widths=(150, 28), text_align=("LEFT", "RIGHT"),
                        headings_style=HEADINGS, line_height=5.5,
                        borders_layout="HORIZONTAL_LINES", cell_fill_color=STRIPES,
                        cell_fill_mode=TableCellFillMode.ROWS) as table:
            table.row((label, "Decisions"))
            for row in rows:
                table.row(row)

    def note(self, text: str) -> None:
        self.ln(1)
        self.set_font(self.sans, "", 8.5)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 4.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def monospace(self, title: str, text: str) -> None:
        """A titled block of fixed-width text, kept on one page when it fits on one."""
        self.set_font(self.mono, "", 8)
        lines = self.multi_cell(0, 4.2, text, dry_run=True, output="LINES")
        height = 4.2 * len(lines if isinstance(lines, list) else text.splitlines()) + 11
        if self.will_page_break(height) and height < self.eph:
            self.add_page()
        self.heading(title)
        self.set_font(self.mono, "", 8)
        self.set_text_color(*INK)
        self.set_fill_color(246, 248, 250)
        self.multi_cell(0, 4.2, text, fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def listing(self) -> None:
        listed = self.report.listing
        self.heading("Records")
        self.set_font(self.sans, "", 7)
        self.set_text_color(*INK)
        self.set_draw_color(208, 215, 222)
        with self.table(col_widths=(10, 30, 58, 16, 14, 50), line_height=4, padding=(0.6, 1),
                        headings_style=HEADINGS, borders_layout="HORIZONTAL_LINES",
                        text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "LEFT")) as table:
            table.row(("Seq", "Time (UTC)", "Id", "Kind", "Action", "Citations"))
            for r in listed[:LIST_LIMIT]:
                table.row((str(r.seq), r.second, r.id, r.kind, r.action, r.citations))
        if len(listed) > LIST_LIMIT:
            self.note(f"The first {LIST_LIMIT} of {len(listed)} records; records.csv lists "
                      "them all.")
        elif not listed:
            self.note("No records in the period.")
        self.note("Texts are as the ledger stored them; records.csv has the same records as "
                  "a table, records.jsonl exactly as stored.")
