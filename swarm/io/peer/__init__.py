"""A peer's IO: its poll loop, its sockets and links, the runner that
carries out its state's actions, its disk (Shared, partial files, placing),
the Shared watcher, the terminal display, and the one-shot get and seed."""
