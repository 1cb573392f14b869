"""Hand-written toxicity examples (written for this project, not copied from any evaluation set).

Davidson's tweets teach profanity and slurs but hardly any counter-speech, negation, quotation,
personal harassment or threats. These short lists fill those gaps. They are only added to
training when ``augment=True``; the training report prints results with and without them, and
the odd-indexed items are held out for evaluation.
"""

from __future__ import annotations

#: Non-toxic: counter-speech, negation, quoting or reporting abuse, supportive statements.
CLEAN_COUNTER: list[str] = [
    "Saying that immigrants are criminals is just wrong and hateful.",
    "I don't hate anyone because of their religion.",
    "It is never okay to call someone a slur, stop it.",
    "My coworker said 'all women are stupid' and I reported him to HR.",
    "People who say gay people are sick need to educate themselves.",
    "I would never say that black people are inferior, that is racist nonsense.",
    "Threatening to hurt trans people is disgusting and should be punished.",
    "He called me a worthless idiot and it really hurt my feelings.",
    "Calling disabled people burdens is cruel and false.",
    "No one deserves to be told to kill themselves online.",
    "Muslims are not terrorists; that stereotype is dangerous.",
    "The article quotes the attacker as saying 'I hate Jews', which shows his motive.",
    "We should stand together against racism in our community.",
    "Women are just as capable engineers as men.",
    "I'm proud to be gay and I love my community.",
    "If you think refugees are vermin, you are the problem.",
    "Stop spreading lies that immigrants are ruining this country.",
    "My neighbor told me 'go back to your country' and I was shocked.",
    "Hate speech against any group has no place on this forum.",
    "It's not true that old people are useless, they have so much wisdom.",
    "Bullying someone for their weight is unacceptable.",
    "I strongly disagree with your policy proposal, but I respect your right to make it.",
    "That movie was terrible, the plot made no sense.",
    "The killer in the novel was finally caught in the last chapter.",
    "I could kill for a pizza right now.",
    "This new album is sick, I love it!",
    "Please stop posting insults, it makes the discussion worse for everyone.",
    "Nobody should be attacked because of who they love.",
    "Saying 'you people are animals' about any ethnic group is dehumanizing.",
    "I used to think trans women were a threat, but I was wrong and I apologize.",
]

#: Toxic: harassment of individuals, threats of violence, dehumanization, without profanity.
TOXIC_EXTRA: list[str] = [
    "You are a worthless piece of garbage and everyone would be better off without you.",
    "I will find where you live and make you regret ever being born.",
    "Go kill yourself, nobody wants you here.",
    "People like you should be lined up and shot.",
    "Immigrants are vermin and should be exterminated.",
    "You are so ugly and stupid it's embarrassing to look at you.",
    "I'm going to beat you until you can't walk anymore.",
    "Women belong in the kitchen and should shut up about politics.",
    "All Muslims are terrorists and should be deported.",
    "Disabled people are a burden and should have been left to die.",
    "I hope your whole family dies in a fire.",
    "You're a pathetic loser, just disappear already.",
    "Gay people are disgusting and should be locked up.",
    "Shut up, you brainless moron, nobody cares about your opinion.",
    "I'll slit your throat if I ever see you again.",
    "Black people are animals and don't deserve rights.",
    "Old people are useless parasites who should hurry up and die.",
    "Trans people are mentally ill freaks.",
    "You deserve to be raped for what you said.",
    "We should burn their mosque to the ground.",
    "Jews control the banks and are ruining everything.",
    "Your kid is a retard just like you.",
    "I'm going to bring a gun to school tomorrow and shoot everyone who bullied me.",
    "You idiot, you can't even read a simple sentence.",
    "Fat people are lazy pigs with no self control.",
    "Somebody should put a bullet in that politician's head.",
    "Refugees are rapists and invaders.",
    "You are the dumbest person I have ever had the misfortune of talking to.",
    "I'll make sure you lose your job and your family leaves you.",
    "Mexicans are filthy criminals.",
]


def split_even_odd(items: list[str]) -> tuple[list[str], list[str]]:
    """(train, held-out): even indices train, odd indices are only used for evaluation."""
    return items[0::2], items[1::2]
