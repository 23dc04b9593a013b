"""The web chat page (index.html, chat.css, chat.js): plain files served by bot.adapters.http, no build step."""
