"""The fake Telegram Bot API, for the real python-telegram-bot."""
