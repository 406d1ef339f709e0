"""What people look at: the pages (the conflict list at ``/``, a page per conflict, its card
for other sites), and the badge and feed a newsroom embeds."""
