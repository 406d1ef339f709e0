"""What people look at: the status page at ``/``, and the badge and feed a newsroom embeds."""
