"""Multilingual regex cue families for the injection scorer (injection-v3 and later).

The MiniLM embedding reads English only, so a German or Spanish "forget all previous
instructions" looks like noise to it. These families give language-independent evidence: each
one covers English plus German, Spanish, French, Italian, Portuguese and Dutch, written as
general phrase families (verb ... object, possessive + secret, role switch), not as copies of
any test prompt. Counted like the v2 cues (capped at 3); the trained classifier decides how much
each family is worth, against hand-written hard negatives that use the same words benignly.

:data:`ML_CUE_PATTERNS` holds the families (name -> compiled pattern).
"""

from __future__ import annotations

import re

__all__ = ["ML_CUE_PATTERNS"]

_I = re.IGNORECASE

# "ignore / forget / disregard" in the seven languages (imperative and infinitive forms).
_OVERRIDE_VERBS = (
    r"ignor\w*|disregard\w*|forget|vergiss|vergesst|vergessen|missachte\w*|übergeh\w*|"
    r"olvid\w*|descart\w*|omit\w*|oubli\w*|dimentic\w*|trascur\w*|esque[cç]\w*|desconsider\w*|"
    r"negeer\w*|vergeet|haz caso omiso|no hagas caso|fais abstraction|non tenere conto|"
    r"n[aã]o leve em conta"
)
# "instructions / rules / guidelines / directives / orders / prompt"
_RULE_NOUNS = (
    r"instructions?|rules|guidelines|directions|prompts?|"
    r"anweisung\w*|instruktion\w*|regeln|vorgaben|richtlinien|befehle|anordnungen|"
    r"instrucci\w+|reglas|indicaciones|directrices|[oó]rdenes|normas|"
    r"consignes|r[eè]gles|directives|"
    r"istruzion\w+|regole|indicazioni|direttive|"
    r"instru[cç][oõ]es|instru[cç][aã]o|regras|diretrizes|orienta[cç][oõ]es|"
    r"instructies|regels|richtlijnen|opdrachten"
)
# "previous / above / earlier / all / your"
_PRIOR = (
    r"previous|prior|above|earlier|all|your|"
    r"vorherig\w*|bisherig\w*|obig\w*|vorangegangen\w*|früher\w*|alle\w*|sämtlich\w*|deine?\w*|"
    r"anteriores|previas|todas|tus|arriba|"
    r"pr[eé]c[eé]dent\w*|ant[eé]rieur\w*|ci-dessus|toutes|tes|vos|"
    r"precedenti|sopra|tutte|tue|"
    r"acima|suas|"
    r"vorige|eerdere|bovenstaande|je"
)
# "everything / all of it (above / before)"
_EVERYTHING = r"everything|alles|todo|tout|tutto|tudo"

_OVERRIDE = re.compile(
    rf"\b({_OVERRIDE_VERBS})\b[^.\n]{{0,40}}?\b({_PRIOR})\b[^.\n]{{0,30}}?\b({_RULE_NOUNS})\b"
    rf"|\b({_OVERRIDE_VERBS})\b[^.\n]{{0,25}}?\b({_RULE_NOUNS})\b[^.\n]{{0,15}}?\b({_PRIOR})\b"
    rf"|\b({_OVERRIDE_VERBS})\b\s+({_EVERYTHING})\b",
    _I,
)

# "new task / new instructions", "your real task", "you are now", "from now on"
_NEW_TASK = re.compile(
    r"\bnew (task|instructions?|rules|objective|goal)\s*:|\byour (new|real|actual|true) "
    r"(task|instructions?|goal|job)\b"
    r"|\bneue (aufgabe|anweisung\w*|regeln|befehle)\b|\bdu bist (jetzt|nun|ab sofort)\b|\bvon nun an\b"
    r"|\bab (jetzt|sofort) (bist|gilt|gelten)\b"
    r"|\bnuevas? (tarea|instrucci\w+|reglas|[oó]rdenes)\b|\bahora eres\b|\ba partir de ahora\b"
    r"|\bnouvelles? (t[aâ]che|instructions?|consignes?|r[eè]gles)\b|\b(tu es|vous [eê]tes) "
    r"(maintenant|d[eé]sormais)\b|\b[aà] partir de maintenant\b"
    r"|\bnuov[oaie] (compit[oi]|istruzion[ei]|regole)\b|\b(ora|adesso) sei\b|\bd'ora in (poi|avanti)\b"
    r"|\bnovas? (tarefa|instru[cç]\w+|regras)\b|\bagora (voc[eê] [eé]|[eé]s)\b|\ba partir de agora\b"
    r"|\bnieuwe (taak|instructies|opdracht|regels)\b|\b(je|jij) bent nu\b|\bvanaf nu\b",
    _I,
)

# A mention of the system prompt in any of the languages (developers ask about theirs too).
_SYSPROMPT = re.compile(
    r"\bsystem ?(prompt|message)\b|\bsystemanweisung\w*|\bsysteemprompt\b"
    r"|\bprompt (del|de|du|di|do) (sistema|syst[eè]me)\b|\bprompt syst[eè]me\b",
    _I,
)

# Second-person secrets / instructions ("your password", "deine ursprünglichen Anweisungen",
# "the instructions you were given").
_EXFIL = re.compile(
    r"\bdeine?[nmrs]? (\w+ )?(passwort|kennwort|anweisungen|instruktionen|geheim\w*|vorgaben)\b"
    r"|\btus? (\w+ )?(contraseña|instrucciones|reglas)\b|\bt(on|es) (\w+ )?(mot de passe|"
    r"instructions|consignes)\b|\bvotre (mot de passe)\b|\bvos (instructions|consignes)\b"
    r"|\b(la tua|le tue) (\w+ )?(password|istruzioni|regole)\b"
    r"|\bsuas? (\w+ )?(senha|instru[cç]\w+|regras)\b|\b(je|jouw) (\w+ )?(wachtwoord|instructies)\b"
    r"|\byour (\w+ )?(password|secret key|api key|initial instructions|hidden instructions|"
    r"original instructions)\b|\bthe (admin|root|secret) (password|key)\b"
    r"|\b(instructions|rules|prompt) (that )?you (were|have been|got|received)\b",
    _I,
)

# "act as / pretend / play the role of" (a persona switch; benign role-play shares it).
_ACT_AS = re.compile(
    r"\b(act as|pretend (to be|you)|play the role|impersonate)\b"
    r"|\btu so,? als\b|\bgib dich als\b|\bspiel\w* (die|eine) rolle\b"
    r"|\bact[uú]a como\b|\bfinge (ser|que)\b|\bhaz de cuenta\b|\binterpreta el papel\b"
    r"|\bagis?(sez)? comme\b|\bfai(tes|s) semblant\b|\bjoue(z)? le r[oô]le\b"
    r"|\bcomportati come\b|\bfingi (di|che)\b|\bfai finta\b|\binterpreta il ruolo\b"
    r"|\baja como\b|\bfinja (ser|que)\b|\bfa[cç]a de conta\b"
    r"|\bdoe alsof\b|\bgedraag je als\b|\bspeel de rol\b",
    _I,
)

# "no restrictions / without filters / uncensored" in the non-English languages (v2's persona
# cue already covers English).
_UNRESTRICTED = re.compile(
    r"\b(ohne|keine\w*) (einschränkung\w*|filter\w*|regeln|zensur|grenzen|beschränkung\w*|moral)\b"
    r"|\bunzensiert\w*|\buneingeschränkt\w*"
    r"|\bsin (restricci\w+|filtros?|reglas|censura|l[ií]mites)\b|\bno tienes (restricci\w+|filtros|"
    r"reglas|l[ií]mites)\b"
    r"|\bsans (restrictions?|filtres?|r[eè]gles|censure|limites?)\b|\baucune? (restriction|filtre|"
    r"limite|r[eè]gle)s?\b"
    r"|\bsenza (restrizioni|filtri|regole|censura|limiti)\b|\bnon hai (restrizioni|filtri|regole|limiti)\b"
    r"|\bsem (restri[cç][oõ]es|filtros?|regras|censura|limites)\b"
    r"|\b(zonder|geen) (beperkingen|filters?|regels|censuur)\b",
    _I,
)

# A task redirected inside the text ("do not summarize this; instead reply ...": English
# "instead" only before a command verb, it is common in ordinary prompts) or a note addressed
# to the AI that processes a document (indirect injection).
_REDIRECT = re.compile(
    r"\binstead\b[,:]?\s+(\w+\s+){0,2}(reply|respond|say|write|print|output|tell|send|reveal|show|"
    r"give|ask|forward|recommend|delete|visit)\b"
    r"|\b(stattdessen|en su lugar|en lugar de eso|[aà] la place|invece|em vez disso|in plaats daarvan)\b"
    r"|\b(note|message|instruction|notice|hinweis|nachricht|mensaje|nota|messaggio|mensagem|"
    r"bericht)s? (to|for|an|para|pour|per|aan) (the |den |die |el |la |l'|il |o |a |de )?"
    r"(ai|assistant|assistent\w*|asistente|assistente|model\w*|llm|chatbot|bot|ki|ia)\b"
    r"|\b(ai|assistant|ki|ia)( \w+){0,2}: ",
    _I,
)

#: Multilingual cue families (name -> pattern), appended to the v2 cues in injection-v3.
ML_CUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "ml_override": _OVERRIDE,
    "ml_new_task": _NEW_TASK,
    "ml_sysprompt": _SYSPROMPT,
    "ml_exfiltrate": _EXFIL,
    "ml_act_as": _ACT_AS,
    "ml_unrestricted": _UNRESTRICTED,
    "ml_redirect": _REDIRECT,
}
