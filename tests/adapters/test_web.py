"""The web chat in a real headless Chromium (Debian's `chromium`, driven by Playwright): send, watch
the reply stream in, reload and keep the history, stop the server and see the error state."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from adapter_fixtures import make_manager, running
from playwright.sync_api import Browser, expect, sync_playwright

from bot.adapters.http import create_app
from bot.config.server import ServerConfig
from bot.types import Reply, Turn

SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"
# Every text the bot's bubbles show, in order: a streamed reply shows several growing prefixes.
RECORD_BOT_TEXT = """
window.botTexts = [];
new MutationObserver((records) => {
  for (const record of records)
    for (const node of record.addedNodes)
      if (node.nodeType === Node.TEXT_NODE && node.parentElement?.closest('.message.bot'))
        window.botTexts.push(node.data);
}).observe(document, {subtree: true, childList: true});
"""


class Slow:
    """The real manager, answering after a pause, so the typing indicator has time to show."""

    def __init__(self, seconds: float) -> None:
        self.manager, self.seconds = make_manager(), seconds
        self.store = self.manager.store

    def handle(self, turn: Turn, on_piece: Callable[[str], None] | None = None) -> Reply:
        time.sleep(self.seconds)
        return self.manager.handle(turn, on_piece)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        reason = "Chromium is not installed (apt-get install chromium; `make test` does it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_a_conversation_streams_survives_a_reload_and_shows_the_server_gone(browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 720, "height": 640})
    page.add_init_script(RECORD_BOT_TEXT)
    message, bot = page.get_by_label("Message"), page.locator(".message.bot .text")
    with running(create_app(Slow(0.4), ServerConfig())) as base:
        page.goto(base + "/")
        message.fill("tell a joke")  # a generated reply: it grows word by word as the model writes it
        message.press("Enter")
        page.locator("#typing").wait_for(state="visible")
        expect(bot).to_have_text(["(chat) tell a joke"])
        expect(page.locator("#typing")).to_be_hidden()
        assert page.evaluate("window.botTexts") == ["(chat) ", "(chat) tell ", "(chat) tell a ", "(chat) tell a joke"]
        assert page.evaluate("document.activeElement.id") == "message"  # ready for the next message
        page.keyboard.type("set an alarm")
        page.keyboard.press("Enter")
        expect(bot).to_have_text(["(chat) tell a joke", "For what time?"])  # a template reply: whole
        page.keyboard.type("7 am")
        page.keyboard.press("Enter")
        expect(bot).to_have_text(["(chat) tell a joke", "For what time?", "Alarm set for 7 am."])

        conversation = page.evaluate("JSON.parse(localStorage.getItem('bot.chat.v1')).id")
        page.reload()
        texts = page.locator(".log .message .text").all_inner_texts()
        assert texts == ["tell a joke", "(chat) tell a joke", "set an alarm", "For what time?", "7 am",
                         "Alarm set for 7 am."]
        assert page.evaluate("JSON.parse(localStorage.getItem('bot.chat.v1')).id") == conversation
        assert page.locator("#error").is_hidden()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "webchat.png")

    message.fill("are you there?")
    message.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Can't reach the server")
    assert page.locator(".message.user.failed .text").inner_text() == "are you there?"
    assert message.input_value() == "are you there?"  # offered again, nothing lost
    page.screenshot(path=SCREENSHOTS / "webchat-offline.png")
    page.close()


def test_the_page_is_usable_by_keyboard_and_screen_reader(browser: Browser) -> None:
    page = browser.new_page()
    with running(create_app(make_manager(), ServerConfig())) as base:
        page.goto(base + "/")
        assert page.evaluate("document.activeElement.id") == "message"
        assert page.get_by_role("log", name="Conversation").count() == 1
        assert page.get_by_role("button", name="Send").count() == 1
        page.keyboard.type("first line")
        page.keyboard.press("Shift+Enter")  # a new line, not a send
        page.keyboard.type("second line")
        assert page.get_by_label("Message").input_value() == "first line\nsecond line"
        page.keyboard.press("Enter")
        expect(page.locator(".message.user .text")).to_have_text(["first line\nsecond line"])
        expect(page.locator(".message.bot")).to_have_count(1)
        page.get_by_role("button", name="New conversation").click()
        expect(page.locator(".message")).to_have_count(0)
    page.close()


def test_a_key_in_the_address_fragment_is_sent_and_a_missing_key_is_asked_for(browser: Browser) -> None:
    from bot.adapters.auth import ApiKeys

    keys = ApiKeys.load(environ={"BOT_API_KEYS": "web-k1"})
    page = browser.new_page()
    bot = page.locator(".message.bot .text")
    with running(create_app(make_manager(), ServerConfig(), api_keys=keys)) as base:
        page.goto(base + "/#key=web-k1")
        assert "web-k1" not in page.url  # the key leaves the address bar at once
        page.get_by_label("Message").fill("set an alarm")
        page.get_by_label("Message").press("Enter")
        expect(bot).to_have_text(["For what time?"])

        asked = browser.new_page()  # a tab with no key: the page asks for one when the server says 401
        questions: list[str] = []
        asked.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept("web-k1")))
        asked.goto(base + "/")
        asked.get_by_label("Message").fill("tell a joke")
        asked.get_by_label("Message").press("Enter")
        expect(asked.locator(".message.bot .text")).to_have_text(["(chat) tell a joke"])  # sent with the key
        assert questions == ["This bot needs an API key. Paste it here:"]
        assert asked.locator("#error").is_hidden() and asked.locator(".message.user.failed").count() == 0
        asked.close()
    page.close()


def test_a_refused_or_wrong_key_is_explained_for_a_person_and_the_message_offered_again(browser: Browser) -> None:
    from bot.adapters.auth import ApiKeys

    keys = ApiKeys.load(environ={"BOT_API_KEYS": "web-k1"})
    answers = ["", "still-wrong", "web-k1"]  # dismissed, then a wrong key, then the right one
    questions: list[str] = []
    page = browser.new_page()
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept(answers.pop(0))))
    message, alert = page.get_by_label("Message"), page.get_by_role("alert")
    with running(create_app(make_manager(), ServerConfig(), api_keys=keys)) as base:
        page.goto(base + "/")
        message.fill("set an alarm")
        message.press("Enter")
        expect(alert).to_have_text("This bot needs an API key. Send your message again and paste the key when "
                                   "asked, or open the page as /#key=YOUR_KEY.")  # no talk of headers
        assert message.input_value() == "set an alarm"  # offered again
        page.goto(base + "/#key=wrong")
        message.fill("set an alarm")
        message.press("Enter")
        expect(alert).to_have_text("The server did not accept that key. Send your message again to paste "
                                   "another one.")
        assert page.locator(".message.bot").count() == 0
        message.press("Enter")  # the text is still there: sent again, the right key pasted this time
        expect(page.locator(".message.bot .text")).to_have_text(["For what time?"])
        expect(alert).to_be_hidden()
    assert questions == ["This bot needs an API key. Paste it here:",
                         "The server did not accept the API key. Paste the right one here:",
                         "The server did not accept the API key. Paste the right one here:"]
    page.close()
