"""PredictionBars: the top-k next tokens after a chosen step, as labelled probability bars."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontDatabase, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from rnnviz.qt.views.common import PALETTE, show_token

ROW = 18


class PredictionBars(QWidget):
    """Rows of `token  [bar]  probability`, most likely first."""

    def __init__(self, k: int = 8, parent=None):
        super().__init__(parent)
        self.k = k
        self.rows: list[tuple[str, float, int]] = []  # (token, probability, id)
        self.caption = "type to see predictions"
        self.drawn: list[tuple[QRectF, str, str]] = []  # at the last paint: (rectangle, shown, whole)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        return QSize(260, ROW * (self.k + 1) + 6)

    def minimumSizeHint(self) -> QSize:
        return QSize(180, ROW * (self.k + 1) + 6)

    def set_probs(self, probs: np.ndarray, vocab, caption: str) -> None:
        top = np.argsort(probs)[::-1][: self.k]
        self.rows = [(vocab[i], float(probs[i]), int(i)) for i in top]
        self.caption = caption
        self.update()

    def clear(self, caption: str = "type to see predictions") -> None:
        self.rows, self.caption = [], caption
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.setPen(pal.text().color())
        fm, w = p.fontMetrics(), self.width()
        self.drawn = []
        self._text(p, QRectF(4, 0, w - 8, ROW), Qt.AlignmentFlag.AlignVCenter, self.caption)
        labels = [repr(show_token(tok)) for tok, _, _ in self.rows]
        value_w = fm.horizontalAdvance("0.000") + 8
        # As wide as the longest token, but the bars keep at least 40 px.
        widest = max([fm.horizontalAdvance(s) + 2 for s in labels] + [40])
        label_w = min(widest, max(40, w - value_w - 16 - 40))
        bar_w = max(10, w - label_w - value_w - 16)
        for n, ((_, prob, _), label) in enumerate(zip(self.rows, labels, strict=True)):
            y = ROW * (n + 1) + 2
            p.setPen(pal.text().color())
            self._text(p, QRectF(4, y, label_w, ROW), Qt.AlignmentFlag.AlignVCenter, label)
            p.fillRect(QRectF(label_w + 8, y + 3, bar_w, ROW - 6), pal.alternateBase())
            p.fillRect(
                QRectF(label_w + 8, y + 3, bar_w * prob, ROW - 6), QColor(PALETTE[0] if n else PALETTE[1])
            )
            align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
            self._text(p, QRectF(w - value_w - 4, y, value_w, ROW), align, f"{prob:.3f}")
        p.end()

    def _text(self, p: QPainter, r: QRectF, flags, text: str) -> None:
        """drawText, elided to `r`'s width (hover shows the whole: mouseMoveEvent); remembered in
        `drawn` as (rectangle, shown text, whole text)."""
        shown = p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(r.width()))
        p.drawText(r, flags, shown)
        self.drawn.append((p.boundingRect(r, flags, shown), shown, text))

    def row_at(self, y: float) -> int | None:
        n = int(y // ROW) - 1
        return n if 0 <= n < len(self.rows) else None

    def mouseMoveEvent(self, event) -> None:
        n = self.row_at(event.position().y())
        if n is None:  # the caption, whole
            self.setToolTip(self.caption if event.position().y() < ROW else "")
            return
        tok, prob, i = self.rows[n]
        self.setToolTip(f"token {show_token(tok)!r} (id {i}): p = {prob:.6f}")
