"""Channel adapters (Telegram, console) and the process entry point."""
