"""Text formatting like the real Bot API: HTML, MarkdownV2 and Markdown parse modes.

The parsers follow the behaviour of TDLib (which the Bot API server uses): the same set of
tags and reserved characters, the same error texts, entity offsets and lengths in UTF-16
code units, and byte offsets (UTF-8) in error messages. Telegram rejects a message whose
markup does not parse with ``400 Bad Request: can't parse entities: <reason>``; that is
how unescaped user text breaks a real bot, so the fake rejects it the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.fakes.telegram_entities import (
    Cursor,
    Entity,
    MarkupError,
    ascii_lower,
    char_width,
    find_auto_entities,
    is_space,
    link_entity,
    sorted_entities,
    strip_text,
)
from tests.fakes.telegram_types import JSON, bad_request

_HTML_TAGS = frozenset(
    "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote".split()
)
_MD2_RESERVED = "_*[]()~`>#+-=|{}.!\n"
_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


# --- HTML -------------------------------------------------------------------------------


def _decode_html_entity(cur: Cursor, pos: int) -> tuple[int, int] | None:
    end = pos + 1
    code = 0
    if cur.at(pos + 1) == "#":
        end += 1
        if cur.at(pos + 2) == "x":
            end += 1
            while cur.at(end) in "0123456789abcdefABCDEF" and cur.at(end) != "\0":
                code = code * 16 + int(cur.at(end), 16)
                end += 1
        else:
            while cur.at(end).isascii() and cur.at(end).isdigit():
                code = code * 10 + int(cur.at(end))
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
    else:
        while cur.at(end).isascii() and cur.at(end).isalpha():
            end += 1
        name = cur.text[pos + 1 : end]
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name)
        if named is None:
            return None
        code = ord(named)
    if cur.at(end) == ";":
        end += 1
    return code, end


def parse_html(source: str) -> tuple[str, list[JSON]]:
    cur = Cursor(source)
    at = cur.at
    out: list[str] = []
    entities: list[Entity] = []
    stack: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, out index
    utf16 = 0
    has_surrogates = False
    i = 0
    while i < cur.n:
        char = source[i]
        if char == "&":
            decoded = _decode_html_entity(cur, i)
            if decoded is not None:
                code, i = decoded
                utf16 += 2 if code > 0xFFFF else 1
                has_surrogates = has_surrogates or 0xD800 <= code <= 0xDFFF
                out.append(chr(code))
                continue
        if char != "<":
            utf16 += char_width(char)
            out.append(char)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != "/":
            while not is_space(at(i)) and at(i) != ">":
                i += 1
            if at(i) == "\0":
                raise MarkupError(f"Unclosed start tag at byte offset {cur.byte_offset(begin)}")
            tag = ascii_lower(source[begin + 1 : i])
            if tag not in _HTML_TAGS:
                raise MarkupError(
                    f'Unsupported start tag "{tag}" at byte offset {cur.byte_offset(begin)}'
                )
            argument = ""
            while at(i) != ">":
                while at(i) != "\0" and is_space(at(i)):
                    i += 1
                if at(i) == ">":
                    break
                attribute_begin = i
                while not is_space(at(i)) and at(i) != "=":
                    i += 1
                attribute = source[attribute_begin:i]
                if not attribute:
                    raise MarkupError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{cur.byte_offset(begin)}"
                    )
                while at(i) != "\0" and is_space(at(i)):
                    i += 1
                if at(i) != "=":
                    raise MarkupError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {cur.byte_offset(begin)}'
                    )
                i += 1
                while at(i) != "\0" and is_space(at(i)):
                    i += 1
                if at(i) == "\0":
                    raise MarkupError(
                        f'Unclosed start tag "{tag}" at byte offset {cur.byte_offset(begin)}'
                    )
                if at(i) not in "'\"":
                    token_begin = i
                    while (at(i).isascii() and at(i).isalnum()) or at(i) in ".-":
                        i += 1
                    value = ascii_lower(source[token_begin:i])
                    if not is_space(at(i)) and at(i) != ">":
                        raise MarkupError(
                            "Unexpected end of name token at byte offset "
                            f"{cur.byte_offset(token_begin)}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    chars: list[str] = []
                    while at(i) != quote and at(i) != "\0":
                        if at(i) == "&":
                            decoded = _decode_html_entity(cur, i)
                            if decoded is not None:
                                chars.append(chr(decoded[0]))
                                i = decoded[1]
                                continue
                        chars.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if at(i) == "\0":
                    raise MarkupError(f"Unclosed start tag at byte offset {cur.byte_offset(begin)}")
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise MarkupError(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{cur.byte_offset(begin)}"
                )
            stack.append((tag, argument, utf16, len(out)))
            i += 1
            continue

        # an end tag
        if not stack:
            raise MarkupError(f"Unexpected end tag at byte offset {cur.byte_offset(begin)}")
        while not is_space(at(i)) and at(i) != ">":
            i += 1
        end_tag = ascii_lower(source[begin + 2 : i])
        while at(i) != "\0" and is_space(at(i)):
            i += 1
        if at(i) != ">":
            raise MarkupError(f"Unclosed end tag at byte offset {cur.byte_offset(begin)}")
        tag, argument, offset, out_index = stack[-1]
        if end_tag and end_tag != tag:
            raise MarkupError(
                f"Unmatched end tag at byte offset {cur.byte_offset(begin)}, "
                f'expected "</{tag}>", found "</{end_tag}>"'
            )
        stack.pop()
        i += 1
        if utf16 <= offset:
            continue
        length = utf16 - offset
        entity = _html_entity(tag, argument, offset, length, "".join(out[out_index:]), entities)
        if entity is not None:
            entities.append(entity)
    if stack:
        raise MarkupError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    for entity in entities:
        if entity.type == "code":
            entity.argument = ""
    text = "".join(out)
    if has_surrogates:
        try:
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            raise MarkupError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None
    return text, [e.to_api() for e in sorted_entities(entities)]


def _html_entity(
    tag: str, argument: str, offset: int, length: int, inner: str, entities: list[Entity]
) -> Entity | None:
    simple = {
        "i": "italic",
        "em": "italic",
        "b": "bold",
        "strong": "bold",
        "s": "strikethrough",
        "strike": "strikethrough",
        "del": "strikethrough",
        "u": "underline",
        "ins": "underline",
        "tg-spoiler": "spoiler",
        "span": "spoiler",
        "blockquote": "blockquote",
    }
    if tag in simple:
        return Entity(simple[tag], offset, length)
    if tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise MarkupError("Invalid custom emoji identifier specified")
        return Entity("custom_emoji", offset, length, argument)
    if tag == "a":
        return link_entity(offset, length, argument or inner)
    last = entities[-1] if entities else None
    same_span = last is not None and last.offset == offset and last.length == length
    if tag == "pre":
        if last is not None and same_span and last.type == "code" and last.argument:
            last.type = "pre"
            return None
        return Entity("pre", offset, length)
    # tag == "code"
    if last is not None and same_span and last.type == "pre" and argument:
        last.argument = argument
        return None
    return Entity("code", offset, length, argument)


# --- MarkdownV2 -------------------------------------------------------------------------


@dataclass
class _Open:
    type: str
    argument: str
    offset: int
    byte_index: int
    out_index: int


def _type_name(kind: str, argument: str) -> str:
    if kind == "pre" and argument:
        return "PreCode"
    return _TYPE_NAMES[kind]


def _reserved(char: str) -> MarkupError:
    return MarkupError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _read_url(cur: Cursor, i: int, what: str) -> tuple[str, int]:
    """Reads ``(url)`` starting at the '(' at i; returns the URL and the index of ')'."""
    i += 1
    begin = i
    chars: list[str] = []
    while i < cur.n and cur.at(i) != ")":
        if cur.at(i) == "\\" and 0 < ord(cur.at(i + 1)) <= 126:
            chars.append(cur.at(i + 1))
            i += 2
            continue
        chars.append(cur.at(i))
        i += 1
    if cur.at(i) != ")":
        raise MarkupError(f"Can't find end of {what} at byte offset {cur.byte_offset(begin)}")
    return "".join(chars), i


def _md2_is_end(cur: Cursor, i: int, top: _Open, in_quote: bool) -> bool:
    at = cur.at
    char = at(i)
    if in_quote and char == "\n" and (i + 1 == cur.n or at(i + 1) != ">"):
        return True
    kind = top.type
    if kind == "bold":
        return char == "*"
    if kind == "italic":
        return char == "_" and at(i + 1) != "_"
    if kind == "code":
        return char == "`"
    if kind == "pre":
        return char == "`" and at(i + 1) == "`" and at(i + 2) == "`"
    if kind in ("text_link", "custom_emoji"):
        return char == "]"
    if kind == "underline":
        return char == "_" and at(i + 1) == "_"
    if kind == "strikethrough":
        return char == "~"
    if kind == "spoiler":
        return char == "|" and at(i + 1) == "|"
    return False


def parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    cur = Cursor(source)
    at = cur.at
    out: list[str] = []
    entities: list[Entity] = []
    stack: list[_Open] = []
    utf16 = 0
    in_quote = False
    i = 0
    while i < cur.n:
        char = source[i]
        if char == "\\" and 0 < ord(at(i + 1)) <= 126:
            out.append(source[i + 1])
            utf16 += 1
            i += 2
            continue
        reserved = "`" if stack and stack[-1].type in ("code", "pre") else _MD2_RESERVED
        if char not in reserved:
            utf16 += char_width(char)
            out.append(char)
            i += 1
            continue

        if not (stack and _md2_is_end(cur, i, stack[-1], in_quote)):
            kind: str | None
            argument = ""
            byte_index = i
            if char == "_":
                kind = "italic"
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
            elif char == "*":
                kind = "bold"
            elif char == "~":
                kind = "strikethrough"
            elif char == "|":
                if at(i + 1) != "|":
                    raise _reserved(char)
                i += 1
                kind = "spoiler"
            elif char == "[":
                kind = "text_link"
            elif char == "`":
                kind = "code"
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    language_end = i
                    while not is_space(at(language_end)) and at(language_end) != "`":
                        language_end += 1
                    if i != language_end and language_end < cur.n and at(language_end) != "`":
                        argument = source[i:language_end]
                        i = language_end
                    if at(i) in "\r\n" and at(i) != "\0":
                        if at(i + 1) in "\r\n" and at(i + 1) != "\0" and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    i -= 1
            elif char == "!":
                if at(i + 1) != "[":
                    raise _reserved(char)
                i += 1
                kind = "custom_emoji"
            elif char == "\n":
                utf16 += 1
                out.append("\n")
                kind = None
                if i + 1 < cur.n and at(i + 1) == ">":
                    i += 1
                    if not in_quote:
                        kind = "blockquote"
                        in_quote = True
            elif char == ">":
                if i != 0:
                    raise _reserved(char)
                kind = "blockquote"
                in_quote = True
            else:
                raise _reserved(char)
            if kind is not None:
                stack.append(_Open(kind, argument, utf16, byte_index, len(out)))
            i += 1
            continue

        # the end of an entity
        top = stack[-1]
        if char == "\n" and top.type != "blockquote":
            raise MarkupError(
                f"Can't find end of {_type_name(top.type, top.argument)} entity at byte offset "
                f"{cur.byte_offset(top.byte_index)}"
            )
        skip = utf16 == top.offset
        entity: Entity | None = None
        if top.type in ("underline", "spoiler"):
            i += 1
        elif top.type == "pre":
            i += 2
        elif top.type == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[top.out_index :])
            else:
                url, i = _read_url(cur, i + 1, "a URL")
            if not skip:
                entity = link_entity(top.offset, utf16 - top.offset, url)
                skip = entity is None
        elif top.type == "custom_emoji":
            if at(i + 1) != "(":
                raise MarkupError("Custom emoji entity must contain a tg://emoji URL")
            url, i = _read_url(cur, i + 1, "a custom emoji URL")
            match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
            if match is None:
                raise MarkupError("Custom emoji URL must have scheme tg")
            top.argument = match.group(1)
        elif top.type == "blockquote":
            in_quote = False
            out.append(char)
            utf16 += 1
        if not skip:
            entities.append(
                entity or Entity(top.type, top.offset, utf16 - top.offset, top.argument)
            )
        stack.pop()
        i += 1

    if in_quote and stack and stack[-1].type == "blockquote":
        top = stack.pop()
        if utf16 != top.offset:
            entities.append(Entity("blockquote", top.offset, utf16 - top.offset))
    if stack:
        top = stack[-1]
        raise MarkupError(
            f"Can't find end of {_type_name(top.type, top.argument)} entity at byte offset "
            f"{cur.byte_offset(top.byte_index)}"
        )
    return "".join(out), [e.to_api() for e in sorted_entities(entities)]


# --- Markdown (legacy) ------------------------------------------------------------------


def parse_markdown(source: str) -> tuple[str, list[JSON]]:
    cur = Cursor(source)
    at = cur.at
    out: list[str] = []
    entities: list[Entity] = []
    utf16 = 0
    i = 0
    while i < cur.n:
        char = source[i]
        if char == "\\" and at(i + 1) in "_*`[" and at(i + 1) != "\0":
            out.append(source[i + 1])
            utf16 += 1
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            utf16 += char_width(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        is_pre = False
        language = ""
        i += 1
        if char == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            language_end = i
            while not is_space(at(language_end)) and at(language_end) != "`":
                language_end += 1
            if i != language_end and language_end < cur.n and at(language_end) != "`":
                language = source[i:language_end]
                i = language_end
            if at(i) in "\r\n" and at(i) != "\0":
                if at(i + 1) in "\r\n" and at(i + 1) != "\0" and at(i) != at(i + 1):
                    i += 2
                else:
                    i += 1
        offset = utf16
        while i < cur.n and (
            at(i) != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))
        ):
            out.append(at(i))
            utf16 += char_width(at(i))
            i += 1
        if i == cur.n:
            raise MarkupError(
                f"Can't find end of the entity starting at byte offset {cur.byte_offset(begin)}"
            )
        if offset != utf16:
            length = utf16 - offset
            if char == "_":
                entities.append(Entity("italic", offset, length))
            elif char == "*":
                entities.append(Entity("bold", offset, length))
            elif char == "[":
                if at(i + 1) != "(":
                    url = source[begin + 1 : i]
                else:
                    i += 2
                    url_chars: list[str] = []
                    while i < cur.n and at(i) != ")":
                        url_chars.append(at(i))
                        i += 1
                    url = "".join(url_chars)
                link = link_entity(offset, length, url)
                if link is not None:
                    entities.append(link)
            elif is_pre:
                entities.append(Entity("pre", offset, length, language))
            else:
                entities.append(Entity("code", offset, length))
        if is_pre:
            i += 2
        i += 1
    return "".join(out), [e.to_api() for e in sorted_entities(entities)]


# --- the whole pipeline -----------------------------------------------------------------


def format_text(
    text: str, parse_mode: str | None, explicit_entities: list[JSON] | None = None
) -> tuple[str, list[JSON]]:
    """Plain text and entities of a message text or caption, as Telegram stores them.

    Raises ApiError (400) when the parse mode is unknown or the markup does not parse.
    """
    mode = (parse_mode or "").lower()
    try:
        if explicit_entities is not None or mode == "":
            plain, entities = text, list(explicit_entities or [])
        elif mode == "html":
            plain, entities = parse_html(text)
        elif mode == "markdownv2":
            plain, entities = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, entities = parse_markdown(text)
        else:
            raise bad_request("unsupported parse_mode")
    except MarkupError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    plain, entities = strip_text(plain, entities)
    entities = entities + find_auto_entities(plain, entities)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, entities
