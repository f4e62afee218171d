"""Help inside the app: a "?" beside every view (what it shows, in plain words, the equation it
draws and how to read its colours), the keyboard shortcuts sheet, and the first-launch tour."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

COLOURS = (
    "<p><b>Colours.</b> Signed values (h, c, the candidates, weights) run from blue (negative) "
    "through white (0) to gold (positive); values in [0, 1] (the sigmoid gates) from dark blue "
    "(0, closed) to yellow (1, open). Both maps stay apart for colour-blind eyes; View &gt; Colour "
    "maps offers others. The colour bar beside each map gives its range.</p>"
)

EXPLANATIONS: dict[str, tuple[str, str]] = {
    "typing": (
        "The typing box",
        "<p>Every keystroke runs the network over your text with its current weights (the same "
        "numbers training uses). Beside it: the most likely next tokens after the selected step "
        "(the last one unless you clicked another). Below: a continuation drawn from the model "
        "at the temperature T, and the <b>input attribution</b>: how much each token matters to "
        "the prediction the gradient is taken of,</p>"
        "<p align=center>a<sub>t</sub> = ||&part; log p(target) / &part;x<sub>t</sub>||&sup2;</p>"
        "<p>(x<sub>t</sub>: the token's one-hot vector or embedding row; darker orange: more, on a "
        "log scale over four decades).</p>",
    ),
    "inside": (
        "Inside: states, gates, gradients",
        "<p><b>Hidden state h</b>, one heatmap per layer: time steps left to right, units top to "
        "bottom. An RNN computes</p><p align=center>h<sub>t</sub> = tanh(W<sub>hh</sub> "
        "h<sub>t-1</sub> + W<sub>xh</sub> x<sub>t</sub> + b)</p>"
        "<p>An <b>LSTM</b> also carries a cell state c (by h): its gates decide what to keep "
        "and what to write,</p><p align=center>f, i, o = &sigma;(W x<sub>t</sub> + U h<sub>t-1</sub> + b), "
        "g = tanh(&hellip;)<br>c<sub>t</sub> = f &middot; c<sub>t-1</sub> + i &middot; g, "
        "&nbsp; h<sub>t</sub> = o &middot; tanh(c<sub>t</sub>)</p>"
        "<p>A <b>GRU</b> mixes old and new: h<sub>t</sub> = (1 - z) n + z h<sub>t-1</sub>, with "
        "the reset gate r inside the candidate n. A forget gate near 1 (yellow) keeps the cell "
        "state: that is how an LSTM remembers.</p>"
        "<p><b>minGRU</b> and <b>minLSTM</b> gate with x<sub>t</sub> only: h<sub>t</sub> = (1 - z) "
        "h<sub>t-1</sub> + z h&#771;<sub>t</sub>, and h<sub>t</sub> = f&prime; h<sub>t-1</sub> + "
        "i&prime; h&#771;<sub>t</sub> with f&prime; + i&prime; = 1. The <b>S6</b> (Mamba's selective "
        "SSM) keeps N numbers per unit, s<sub>t</sub> = exp(&Delta;<sub>t</sub> A) s<sub>t-1</sub> + "
        "&Delta;<sub>t</sub> B<sub>t</sub> u<sub>t</sub>, read out by C<sub>t</sub>: beside h, each "
        "unit's ||s<sub>t</sub>|| (or one entry n, the <i>state s</i> box); its gates are &Delta; "
        "(one row per unit) and B, C (N rows); its bars are ||dL/ds<sub>t</sub>||.</p>"
        "<p><b>||dL/dh<sub>t</sub>||</b>, on a log scale: how much the loss of the prediction at "
        "the last step (L = -log p(target)) depends on the state at each earlier step, through "
        "every path (backpropagation through time). An RNN's bars fall by orders of magnitude "
        "within a few dozen steps (the vanishing gradient); an LSTM's fall far slower.</p>"
        "<p>The <b>Show</b> box picks the states or the gates of a layer, so that each heatmap "
        "shown stays tall enough to read; <b>double-click</b> a plot to maximise it (Esc returns). "
        "Every token is labelled while the labels fit; else every k-th, and the title says so.</p>"
        "<p>Click a step to select it everywhere; click a unit of h or c to see it in the Units "
        "tab; hover for exact values.</p>" + COLOURS,
    ),
    "unrolled": (
        "Unrolled: step through",
        "<p>The same cell applied at every step of your text: the input x<sub>t</sub> at the "
        "bottom, one cell per layer (h<sub>t</sub> of every unit as small squares, the chosen unit "
        "outlined; an LSTM's cell state rides the belt on top), the top predictions y<sub>t</sub>, "
        "and an <b>L</b> where a loss is taken (every step, or the last only).</p>"
        "<p><b>Play</b> (Space) reveals the forward pass a step (or, with <i>each gate</i>, a gate) "
        "at a time, then backpropagation through time: dL/dh<sub>t</sub> flows back from the target "
        "step, the arrows as wide and dark as its norm. The panel below fills the cell's equations "
        "with the chosen unit's numbers, forward and backward. Left/Right: one frame (Shift: 10), "
        "Home/End, the slider scrubs.</p>"
        "<p>In a <b>minGRU</b> or <b>minLSTM</b> the arrow h<sub>t-1</sub> &rarr; h<sub>t</sub> "
        "carries &#8857;: each unit's old value is scaled by a number of its own (1&minus;z, "
        "f&prime;), with no matrix W<sub>hh</sub>, and so is its gradient going back. An <b>S6</b>'s "
        "state s (N numbers per channel) rides a belt under each cell, decayed by exp(&Delta;A); "
        "its h<sub>t</sub> is an output, and the gradient goes back in time along s.</p>",
    ),
    "curves": (
        "Loss, accuracy, bits per token",
        "<p>The training loss (cross-entropy, in nats) of every step, and of the held-out text "
        "(dots) every 100 steps; accuracy: how often the most likely token is the right one; bits "
        "per token = loss / ln 2. Marks along the bottom: steps whose gradient was clipped (|) "
        "and steps skipped because the loss or a gradient was not finite (&#9650;). The star marks "
        "the lowest held-out loss; when held-out loss has risen since (three evaluations above it, "
        "the last 2 % or more), a line says so: the model is memorising the training text rather "
        "than learning what carries over to new text (overfitting). <i>Best</i> on the timeline "
        "goes back to the weights nearest that step; dropout and weight decay (Reset) slow it.</p>",
    ),
    "gradnorms": (
        "Gradient norms",
        "<p>||&part;L/&part;W|| of every parameter at every step (log scale), and their total; the "
        "dashed line is the clipping threshold: above it, the whole gradient is scaled down to it. "
        "Exploding gradients show as spikes far above the rest.</p>",
    ),
    "weights": (
        "Weights",
        "<p>The weight matrices as they train: W<sub>ih</sub> (input to hidden) and "
        "W<sub>hh</sub> (hidden to hidden) per layer, with the gate blocks labelled, the head "
        "(hidden to output), the embedding and the biases.</p>" + COLOURS,
    ),
    "samples": (
        "Samples",
        "<p>Text drawn from the model every N steps, starting from a new line: each next token "
        "is drawn with probability</p><p align=center>p<sub>i</sub> = exp(z<sub>i</sub> / T) / "
        "&Sigma;<sub>j</sub> exp(z<sub>j</sub> / T)</p><p>from the model's scores z. A lower "
        "temperature T is safer (T = 0: always the most likely token), a higher one wilder. Early "
        "in training the samples are noise; words, then punctuation, then phrases appear.</p>",
    ),
    "preset": (
        "Preset figures",
        "<p>The preset's figures for the model as it trains, beside their references: baselines "
        "(always the most frequent token), the best any predictor can do, and the tutorial's "
        "result. Green: the target is reached.</p>",
    ),
    "units": (
        "Units: the neuron finder",
        "<p>The model reads the first 20,000 tokens of its corpus. The chosen unit's activation "
        "colours the text (blue negative, gold positive), with its most active contexts. A "
        "<b>feature</b> (built in, or any regular expression: 1 where it matches) ranks every "
        "unit by the Pearson correlation of its activation with the feature over every position,"
        "</p><p align=center>r = cov(a, f) / (&sigma;<sub>a</sub> &sigma;<sub>f</sub>)</p>"
        "<p><b>Intervene</b> changes the network for the typed text: a unit's h clamped (0: "
        "zeroed), or a gate forced (f = 1 keeps the cell state). A banner says so; Clear restores "
        "the network as trained.</p>",
    ),
    "trajectory": (
        "State trajectory",
        "<p>The two directions along which the corpus's hidden states vary most (principal "
        "components), with the corpus's states in grey and your text's states as a path that "
        "grows as you type. Texts that mean the same to the model end up near each other.</p>",
    ),
    "timeline": (
        "Training timeline",
        "<p>The weights are kept every N updates. Move the slider to show every view of your text "
        "with an earlier step's weights (the curves mark that step); the right end is live. "
        "<i>Train from here</i> starts training again from those weights with the same settings "
        "and seed.</p>",
    ),
    "listen": (
        "Who listens to whom",
        "<p>Row t, column s: how much the token read at step s makes of the chosen layer's output "
        "h<sub>t</sub> (s &le; t; later tokens are blank).</p>"
        "<p><b>minGRU, minLSTM, S6</b>: exact. Once its gates are known, each layer is linear in its "
        "input, h<sub>t</sub> = a<sub>t</sub> h<sub>t-1</sub> + b<sub>t</sub>, so h<sub>t</sub> splits "
        "into one part per token,</p><p align=center>part(t, s) = a<sub>t</sub> &middot; &hellip; "
        "&middot; a<sub>s+1</sub> &middot; b<sub>s</sub></p><p>(minGRU a = 1 - z, b = z h~; minLSTM "
        "a = f', b = i' h~; for S6, per channel, Mamba's <i>hidden attention</i>: "
        "y<sub>t</sub> = &Sigma;<sub>s</sub> &alpha;(t,s) u<sub>s</sub> + D u<sub>t</sub>, "
        "&alpha;(t,s) = C<sub>t</sub> &middot; exp(&Delta;A) &hellip; &Delta;<sub>s</sub> "
        "B<sub>s</sub>, Ali et al. 2024). &alpha; is the part's norm, or its component along "
        "h<sub>t</sub>; the parts add up to h<sub>t</sub>. A layer above receives the parts of the "
        "layer below's output, carried through with its gates as computed. <b>channel</b> shows "
        "one S6 channel's &alpha;(t,s) itself.</p>"
        "<p><b>RNN, LSTM, GRU</b>: not an attention. &alpha; is the Jacobian norm "
        "||&part;h<sub>t</sub>/&part;x<sub>s</sub>||: how strongly h<sub>t</sub> moves when the "
        "input token x<sub>s</sub> (its one-hot vector or embedding row) changes, through every path."
        "</p><p>It is computed beside the app, only while this tab is shown: on long texts the rows "
        "appear as they are computed. Log scale: five decades below the largest value.</p>",
    ),
}

SHORTCUTS = (
    ("F5", "Play / pause training"),
    ("Space", "Play / pause training (outside text boxes; in the unrolled view: the step-through)"),
    ("F6", "One training step"),
    ("Ctrl+R", "Reset: a fresh model from the settings on the left"),
    ("Left / Right", "Select the previous / next time step (Shift: 10); in the unrolled view: frames"),
    ("Home / End", "The first / last time step (or frame)"),
    ("Ctrl+O", "Open a model"),
    ("Ctrl+S", "Save the model"),
    ("Ctrl+Shift+O", "Open a session"),
    ("Ctrl+Shift+S", "Save the session (model, settings, history, typed text, view)"),
    ("Ctrl+Shift+E", "Export the whole window as a PNG image"),
    ("Ctrl+Shift+L", "The next theme (System, Light, Dark)"),
    ("Ctrl+/", "This list of shortcuts"),
    ("F1", "What am I looking at?"),
    ("Ctrl+Q", "Quit"),
)


def explain(parent: QWidget, topic: str) -> QMessageBox:
    """The explanation of one view, in a box that does not block the app."""
    title, html = EXPLANATIONS[topic]
    box = QMessageBox(QMessageBox.Icon.Information, f"rnnviz \u2014 {title}", f"<h3>{title}</h3>{html}",
                      parent=parent)  # fmt: skip
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def help_button(topic: str | Callable[[], str], parent: QWidget | None = None) -> QToolButton:
    """A "?" that explains `topic`, or the topic `topic()` names when clicked (a group of tabs)."""
    b = QToolButton(parent)
    b.setText("?")
    b.setToolTip(f"What is this? ({EXPLANATIONS[topic][0] if isinstance(topic, str) else 'the tab shown'})")
    b.clicked.connect(lambda: explain(b.window(), topic if isinstance(topic, str) else topic()))
    return b


def shortcuts_dialog(parent: QWidget) -> QDialog:
    d = QDialog(parent)
    d.setWindowTitle("rnnviz \u2014 keyboard shortcuts")
    table = QTableWidget(len(SHORTCUTS), 2)
    table.setHorizontalHeaderLabels(["keys", "what they do"])
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    for r, (keys, what) in enumerate(SHORTCUTS):
        table.setItem(r, 0, QTableWidgetItem(keys))
        table.setItem(r, 1, QTableWidgetItem(what))
    close = QPushButton("Close")
    close.clicked.connect(d.close)
    lay = QVBoxLayout(d)
    lay.addWidget(table)
    lay.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
    table.resizeRowsToContents()
    rows = table.verticalHeader().length() + table.horizontalHeader().height()
    d.resize(640, min(rows + close.sizeHint().height() + 48, 760))  # every row, no scrolling
    d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    d.show()
    return d


def guide_dialog(parent: QWidget) -> QDialog:
    """Every view's explanation on one scrolling page (F1)."""
    d = QDialog(parent)
    d.setWindowTitle("rnnviz \u2014 what am I looking at?")
    from PySide6.QtWidgets import QTextBrowser

    text = QTextBrowser()
    text.setHtml("".join(f"<h3>{title}</h3>{html}" for title, html in EXPLANATIONS.values()))
    lay = QVBoxLayout(d)
    lay.addWidget(text)
    d.resize(720, 640)
    d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    d.show()
    return d


class _Spotlight(QWidget):
    """An orange frame drawn over a part of the window (it lets the mouse through)."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def around(self, widget: QWidget | None) -> None:
        if widget is None or not widget.isVisible():
            self.hide()
            return
        top_left = widget.mapTo(self.parentWidget(), widget.rect().topLeft())
        self.setGeometry(QRect(top_left, widget.size()).adjusted(-3, -3, 3, 3))
        self.raise_()
        self.show()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor("#E69F00"), 4))
        p.drawRoundedRect(self.rect().adjusted(2, 2, -2, -2), 6, 6)
        p.end()


class Tour(QDialog):
    """A few steps through the window, each pointing at a part of it; Skip ends it at any time."""

    def __init__(self, parent: QWidget, steps: list[tuple[str, str, Callable[[], QWidget]]]):
        super().__init__(parent)
        self.setWindowTitle("rnnviz \u2014 a quick tour")
        self.steps, self.k = steps, 0
        self.spotlight = _Spotlight(parent)
        self.title, self.text = QLabel(), QLabel()
        self.title.setStyleSheet("font-weight: bold; font-size: 13pt;")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.counter = QLabel()
        self.back, self.next, self.skip = (
            QPushButton("Back"),
            QPushButton("Next"),
            QPushButton("Skip the tour"),
        )
        self.back.clicked.connect(lambda: self.show_step(self.k - 1))
        self.next.clicked.connect(self._on_next)
        self.skip.clicked.connect(self.close)
        for b in (self.back, self.skip):
            b.setAutoDefault(False)
        self.next.setDefault(True)  # Enter: the next step
        row = QHBoxLayout()
        row.addWidget(self.counter)
        row.addStretch(1)
        for b in (self.skip, self.back, self.next):
            row.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.text)
        lay.addStretch(1)
        lay.addLayout(row)
        self.setFixedWidth(440)
        self.show_step(0)

    def show_step(self, k: int) -> None:
        self.k = max(0, min(k, len(self.steps) - 1))
        title, text, target = self.steps[self.k]
        self.title.setText(title)
        self.text.setText(text)
        self.counter.setText(f"{self.k + 1} of {len(self.steps)}")
        self.back.setEnabled(self.k > 0)
        self.next.setText("Done" if self.k == len(self.steps) - 1 else "Next")
        widget = target()
        self.spotlight.around(widget)
        self.adjustSize()
        self._beside(widget)

    def _beside(self, widget: QWidget | None) -> None:
        """Next to the part shown, not over it: on the other side of the window, level with it."""
        window = self.parentWidget()
        if widget is None or not widget.isVisible():
            return
        area = window.geometry()  # the window on the screen
        at = widget.mapToGlobal(widget.rect().topLeft())
        left_half = at.x() + widget.width() / 2 < area.center().x()
        x = at.x() + widget.width() + 16 if left_half else at.x() - self.width() - 16
        y = at.y()
        if x < area.left() or x + self.width() > area.right():  # no room beside it: below, or above
            x = min(max(at.x() + 24, area.left()), area.right() - self.width())
            below, above = at.y() + widget.height() + 12, at.y() - self.height() - 12
            y = below if below + self.height() <= area.bottom() else max(above, area.top() + 40)
        y = max(area.top() + 40, min(y, area.bottom() - self.height() - 20))
        self.move(int(x), int(y))

    def _on_next(self) -> None:
        if self.k == len(self.steps) - 1:
            self.close()
        else:
            self.show_step(self.k + 1)

    def closeEvent(self, event) -> None:
        self._end_spotlight()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        """Escape (reject) ends the tour without a close event: its frame goes too."""
        self._end_spotlight()
        super().done(result)

    def _end_spotlight(self) -> None:
        if isValid(self.spotlight):
            self.spotlight.hide()
            self.spotlight.deleteLater()
