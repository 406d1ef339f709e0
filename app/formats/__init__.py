"""The representations that are not JSON, beside the words they share with the pages: the badge
(SVG), the Atom feed, and how long a state has lasted in words. Pure functions of a view, below
both the reads that serve them (``app.reads.view_bytes``) and the pages (``app.pages``)."""
