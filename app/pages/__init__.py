"""What people look at: the pages (the conflict list at ``/``, a page per conflict, its card
for other sites), rendered from the projections' queries. Their routes are ``app.api.pages``;
the badge and feed a newsroom embeds are ``app.formats``."""
