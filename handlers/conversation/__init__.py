"""The defender's conversation with the bot, in a private chat (docs/spec.md §3).

Where to look:

- ``flow.py``: every state and every open question, in two tables, with
  the function that takes the defender's next message in each;
- ``steps.py``: the report's questions, one table of steps;
- ``record.py``: the conversation record (``Conversation``, the typed
  ``Draft`` and ``Pending`` question), stored encrypted after each message
  so that a restart resumes it;
- ``commands.py``: the defender's commands;
- ``after_ask.py``: the conversation window after an advisor's ``/ask``.

Before any of these, ``flow.on_message`` lets ``handlers/checkins.py``
(a check-in's answer or duress word), ``handlers/resources.py`` and
``handlers/consent.py`` (their buttons) take what is theirs.

::

    /report ─▶ WHAT ─▶ WHERE ─▶ (COUNTRY) ─▶ WHO ─▶ URGENCY ─▶ CONSENT ─▶ CONTACT ─▶ SUMMARY
                 ▲ (several messages,                               │ confirm ─▶ case, IDLE
                 │  photos, documents; "done")                      │ cancel  ─▶ erased, IDLE
                 │                                                  │ edit ─▶ EDIT
                 └──── EDIT: back to one step, then SUMMARY again ◀─┘

    COUNTRY (only when ``[casework]`` offers countries): a button per country,
            "Other" (then a name or code, resolved by Babel) or "Skip";
            the answer becomes the case's ``country`` tag.

    /sos ─▶ case created at once as "immediate" from what is written so far,
            the rooms alerted, then WHAT or WHERE … CONTACT ─▶ SUMMARY completes it.

    IDLE: a free message goes to the defender's open case (asking which one
          when there are several); nothing open ─▶ what the bot can do.

    Open questions, answered first in any state (``Pending``):
      language      /start, /language        ─▶ the account's language
      forget        /forget                  ─▶ everything erased, or kept
      reply         an advisor's /ask        ─▶ relayed to the rooms; the draft resumes
                    (no draft: everything for 30 min or until Done, after_ask.py)
      which_case    IDLE, several open cases ─▶ relayed under the chosen case
      cleanup       after a Telegram report  ─▶ the report's messages deleted, or kept
"""
