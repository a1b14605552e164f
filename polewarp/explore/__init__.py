"""`polewarp explore`: a local server that renders previews of a view as the page drags it,
and the page itself (static files in ``static/``, shipped as package data)."""
