"""What every explorer shares: figures as PNG bytes, and a display that holds
the live widget and a static picture of it."""
from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt

#: PNG resolution of explorer pictures: with 9-10 pt text this gives 12-14 px
#: letters when JupyterLab shows the picture at its natural width.
EXPLORER_DPI = 100


def png(fig, dpi: int = EXPLORER_DPI) -> bytes:
    """The figure as PNG bytes; the figure is closed (no second copy in the cell)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


class Explorer:
    """A built explorer: ``widget`` (the whole box), its ``controls`` by name,
    its ``image`` (the current picture) and ``output`` (what callbacks print).

    As a cell's last value it shows one output in three forms: JupyterLab
    draws the live widget (its renderer outranks images), static renderers
    (papermill's executed copies, nbconvert, GitHub) the PNG of the current
    picture, terminals the one-line ``text``.
    """

    def __init__(self, widget, controls: dict, image, output, text: str):
        self.widget, self.controls, self.image, self.output, self.text = widget, controls, image, output, text

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = dict(self.widget._repr_mimebundle_() or {})
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        bundle["text/plain"] = self.text
        return bundle


def image_widget(picture: bytes):
    import ipywidgets as widgets

    # Natural size up to the cell's width: no up-scaling blur, no overflow.
    return widgets.Image(value=picture, format="png", layout=widgets.Layout(max_width="100%", height="auto"))
