"""The defender's conversation with the bot, in a private chat (docs/spec.md §3).

Where to look:

- ``flow.py``: every state and every open question, in two tables, with
  the function that takes the defender's next message in each;
- ``steps.py``: the report's questions, one table of steps;
- ``record.py``: the conversation record (``Conversation``, the typed
  ``Draft`` and ``Pending`` question), stored encrypted after each message
  so that a restart resumes it;
- ``commands.py``: the defender's commands.

::

    /report ─▶ WHAT ─▶ WHERE ─▶ WHO ─▶ URGENCY ─▶ CONSENT ─▶ CONTACT ─▶ SUMMARY
                 ▲ (several messages,                               │ confirm ─▶ case, IDLE
                 │  photos, documents; "done")                      │ cancel  ─▶ erased, IDLE
                 │                                                  │ edit ─▶ EDIT
                 └──── EDIT: back to one step, then SUMMARY again ◀─┘

    /sos ─▶ case created at once as "immediate" from what is written so far,
            the rooms alerted, then WHAT or WHERE … CONTACT ─▶ SUMMARY completes it.

    IDLE: a free message goes to the defender's open case (asking which one
          when there are several); nothing open ─▶ what the bot can do.

    Open questions, answered first in any state (``Pending``):
      language      /start, /language        ─▶ the account's language
      forget        /forget                  ─▶ everything erased, or kept
      reply         an advisor's /ask        ─▶ relayed to the rooms; the draft resumes
      which_case    IDLE, several open cases ─▶ relayed under the chosen case
      cleanup       after a Telegram report  ─▶ the report's messages deleted, or kept
"""
