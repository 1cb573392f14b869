"""Hand-written harassment / threat / violence examples of round 2 (issue #6; written for this
project, not copied from any evaluation set, NOT in the shipped training data).

toxicity-v3's hand-written lists hold 20 harassment and 16 violence items; the hidden evaluation
asks for "hate, harassment and violence included". These lists probe (and, for the experiment in
:mod:`training._tox_token_pool`, extend) that area:

* ``TOXIC_R2``: personal harassment, threats, incitement to violence, wishing harm, mostly without
  slurs or profanity;
* ``CLEAN_R2``: ordinary text with violent vocabulary (technical "kill", sports, news, fiction,
  history, cooking, medicine), firm criticism without abuse, reports of threats.

Split even/odd (:func:`r2_split`): even items may be trained on, odd items are only evaluated.
"""

from __future__ import annotations

from training.augment_toxicity import split_even_odd

__all__ = ["CLEAN_R2", "TOXIC_R2", "r2_split"]

TOXIC_R2: list[str] = [
    "If you show up at the office tomorrow I will make sure you leave in an ambulance.",
    "Everyone in this chat agrees you're pathetic, so do us all a favor and disappear.",
    "I know where your kids go to school, think about that before you post again.",
    "Someone should burn that clinic down with the staff still inside.",
    "You are the dumbest person I have ever had the misfortune of working with.",
    "Keep talking and I'll break every finger on your hands.",
    "Nobody would miss you if you vanished, you useless little parasite.",
    "Let's all go to his house tonight and teach him a lesson he won't forget.",
    "Your face makes me sick, you should never leave your house.",
    "The protesters deserve to be run over, every last one of them.",
    "I'm going to post your address and let people deal with you.",
    "You ugly cow, no wonder your husband left you.",
    "Step outside after the game and see what happens to you.",
    "Those journalists should be lined up and shot.",
    "Go back to whatever sewer you crawled out of, nobody wants you here.",
    "I hope your house floods with you and your whole family locked inside.",
    "Keep your head down at school tomorrow, because I'm bringing something for you.",
    "You're worthless, brainless and a joke, and everyone laughs at you behind your back.",
    "Grab a bat and smash his car, then smash him.",
    "I will hunt you down and make you regret ever being born.",
    "Shut up, loser, nobody asked for your garbage opinion.",
    "Somebody needs to put a bullet in that judge.",
    "You're so stupid it's painful, crawl back under your rock.",
    "We should beat the new kid until he learns his place.",
    "Send me one more message and I'll come over and strangle you.",
    "Women like you deserve to get slapped around.",
    "What a revolting, spineless creep you are.",
    "Burn their homes and drive them out of town.",
    "You are a failure and a disgrace, just end it already.",
    "I'm going to ruin your life and make sure you never work again.",
    "That referee should get his legs broken after the match.",
    "Your opinion is as worthless as you are, idiot.",
]

CLEAN_R2: list[str] = [
    "How do I kill a zombie process that keeps restarting on my server?",
    "The storm destroyed three houses and injured a firefighter, the news reported.",
    "Our team absolutely crushed them in the final, what a game!",
    "In the novel, the detective finds the victim shot in the library.",
    "Please stop sending me messages, I am not interested, thank you.",
    "I disagree with your proposal because the costs are too high.",
    "The police arrested a man who threatened his neighbor with a knife.",
    "My code is killing me today, nothing compiles.",
    "Knife skills class: learn how to chop onions safely and quickly.",
    "The documentary explains how the genocide was planned and who resisted it.",
    "If you feel like hurting yourself, please call a crisis line, you are not alone.",
    "That movie was so bad I wanted to scream, but the soundtrack was nice.",
    "Execute the script and then terminate the child threads.",
    "He was bullied at school for years and finally told a teacher.",
    "Boxers train for months before a fight to avoid serious injury.",
    "The report was sloppy; please fix the numbers before Friday.",
    "The army shelled the city for three days, according to witnesses.",
    "I'm going to murder this pizza, I'm starving.",
    "Can you explain how the assassination of Archduke Franz Ferdinand started the war?",
    "Threatening messages should be reported to the platform and the police.",
    "My sister punched me in the arm when I spoiled the ending, we laughed about it.",
    "The hunters shot two deer during the season.",
    "Honestly I think your argument is weak, but I appreciate you explaining it.",
    "Kill the lights when you leave the room, please.",
    "The victim's family asked for justice after the attack.",
    "Our manager is strict but fair, and I respect her.",
    "The game lets you blow up enemy tanks with rockets.",
    "Firefighters had to break down the door to rescue the dog.",
    "Drop dead gorgeous dress, where did you buy it?",
    "The surgeon had to cut through the bone to remove the tumor.",
    "She fought off the attacker and ran to a neighbor's house.",
    "We need to crush the competition with a better product this quarter.",
]


def r2_split() -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """((clean_train, toxic_train), (clean_heldout, toxic_heldout)): even / odd items."""
    c_tr, c_ho = split_even_odd(CLEAN_R2)
    t_tr, t_ho = split_even_odd(TOXIC_R2)
    return (c_tr, t_tr), (c_ho, t_ho)
