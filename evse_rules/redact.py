"""Secrets out of messages: one place that hides passwords and tokens before text is shown.

    redact_url("HTTP://admin:hunter2@host/api?token=abc&site=1")
        -> "HTTP://***@host/api?token=***&site=1"
    redact("GET http://meter/api?apikey=abc -> HTTP 500")
        -> "GET http://meter/api?apikey=*** -> HTTP 500"

What is hidden:

- the user info of a URL (`user:password@`), whatever the scheme is spelled like (`HTTP://`,
  a typo such as `htp://`, a leading space, `//u:p@h`) or without one (`u:p@h/path`). The
  user name goes too: a password pasted where the user name goes is a password;
- the value of a query (or fragment) parameter whose name says it holds a secret: token,
  apikey, api_key, key, password, pass, pwd, secret, access_token, auth, sig... (any name
  that contains one of these, case-insensitive).

This module imports nothing of evse_rules, so that every room (config, chargers, inputs, the
daemon) may use it without breaking the one-way layout. It is for what is shown (errors, logs,
the journal): the URLs actually requested are never changed.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# Parameter names that hold secrets; matched anywhere in the name ("x-api-key", "auth_token").
_SECRET_NAME = re.compile(r"token|key|pass|pwd|secret|auth|sig|credential|session",
                          re.IGNORECASE)

# What may stand before a URL in a text: quotes and brackets of a repr or a sentence.
_OPEN = r"""[\s'"(<\[{]*"""
# A scheme however spelled (`http:`, `HTTP:`, `htp:`) followed by slashes, or `//` alone.
_SCHEME = re.compile(rf"^({_OPEN}(?:[A-Za-z][A-Za-z0-9+.\-]*:/*|//)?)")
# `name=value` in a query or a fragment; the value runs to the next separator.
_PARAM = re.compile(r"(?P<name>[^&;=?#\s]+)=(?P<value>[^&;#\s'\"<>)\]}]*)")


def is_secret_name(name: str) -> bool:
    """True when a parameter called `name` probably holds a secret (a token, a key...)."""
    return _SECRET_NAME.search(name) is not None


def redact_url(url: str) -> str:
    """`url` as it may be shown: user info and secret query values replaced by `***`.

    Works on anything written as a URL, valid or not: it is applied to what people typed,
    before anything checks that it is a URL.
    """
    prefix = _SCHEME.match(url)
    head = prefix.group(1) if prefix else ""
    rest = url[len(head):]
    # Everything up to the last `@` is user info: a password may itself hold `@`, `/`, `?`
    # or `#`, so the last one is where the host starts. A path or query that holds an `@`
    # shows less than it could; that is the right way to err.
    at = rest.rfind("@")
    if at >= 0:
        rest = f"{MASK}{rest[at:]}"
    return head + _redact_params(rest)


def _redact_params(text: str) -> str:
    start = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=-1)
    if start < 0:
        return text
    return text[:start] + _PARAM.sub(_param_value, text[start:])


def _param_value(match: re.Match[str]) -> str:
    if is_secret_name(match.group("name")) and match.group("value"):
        return f"{match.group('name')}={MASK}"
    return match.group(0)


# A word of a text that may carry a secret: a URL, user info (`u:p@h`), or a query string.
_WORD = re.compile(r"\S+")


def _suspect(word: str) -> bool:
    if "@" in word and (":" in word.split("@")[0] or "//" in word):
        return True
    return "//" in word or "?" in word or "#" in word or ("=" in word and "&" in word)


def redact(text: str) -> str:
    """`text` (a message, a log line) with every URL and user info in it redacted.

    A text is cut at white space: a password that holds a space is only hidden where a URL
    is redacted whole (`redact_url`), as the config does with the values it echoes.
    """
    if not any(c in text for c in "@?#/="):
        return text      # the common case: nothing that could be a URL
    return _WORD.sub(lambda m: redact_url(m.group()) if _suspect(m.group()) else m.group(),
                     text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (arguments merged in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:        # a bad format string: leave it to the handler to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_logs(*names: str) -> None:
    """Redact the records of the loggers `names` (e.g. "httpx", whose request lines carry the
    whole URL at -vv). Idempotent: a logger gets one filter however often this is called."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
