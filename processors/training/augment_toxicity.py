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


#: Non-toxic everyday text, including negative sentiment and mentions of groups or violence.
CLEAN_EVERYDAY: list[str] = [
    "I hate Mondays, the commute is always terrible.",
    "This phone is garbage, the battery dies after two hours.",
    "The referee made a stupid call in the last minute of the game.",
    "Black people have made huge contributions to American music.",
    "My gay neighbors invited us for dinner, they are lovely.",
    "Muslims around the world are celebrating Eid this week.",
    "The documentary covers the history of violence against Native Americans.",
    "The soldiers were killed in an ambush, according to the report.",
    "Trans people deserve access to good healthcare.",
    "I disagree with the new immigration policy because it is too expensive.",
    "Women earned the right to vote in the UK in 1918.",
    "He died peacefully in his sleep at the age of 92.",
    "Can you explain how the immune system fights viruses?",
    "Ugh, I burned the toast again.",
    "That horror movie was so scary I couldn't sleep.",
    "The Jewish community center is hosting a food drive on Sunday.",
    "My code keeps crashing and it's driving me crazy.",
    "Our team got destroyed 5-0 last night, what a disaster.",
    "Immigrants started many of the biggest companies in the country.",
    "I'm so angry that the train was cancelled again.",
    "The hunter shot a deer and brought it home for dinner.",
    "Disabled athletes competed in the Paralympics this summer.",
    "Please stop calling me after 9pm, I need to sleep.",
    "Old people often have the best stories.",
    "The villain in the game kills the hero's mentor in chapter two.",
    "I think your argument is wrong, and here is why.",
    "What a dumb mistake I made, I forgot my keys again.",
    "Mexico has some of the best food in the world.",
    "The report says hate crimes increased by 10 percent last year.",
    "The comedian's jokes were crude but the audience loved them.",
]

#: Toxic text without tweet slang: insults, threats, harassment, implicit hate.
TOXIC_EVERYDAY: list[str] = [
    "Nobody likes you, you should just leave and never come back.",
    "You are too stupid to be allowed to vote.",
    "I know where your kids go to school, watch yourself.",
    "Women are only good for one thing.",
    "Keep talking and I'll break your jaw.",
    "People like her are a plague on society.",
    "You disgusting pig, nobody will ever love you.",
    "Immigrants are stealing our jobs and raping our women.",
    "I hope you get cancer and die slowly.",
    "Gay people shouldn't be allowed near children.",
    "Your mother should have aborted you.",
    "Those animals should go back to the jungle they came from.",
    "Kill yourself, the world will be a better place.",
    "You look like a fat ugly cow in that picture.",
    "Jews are greedy and cannot be trusted.",
    "If I see you at the protest I'll run you over with my car.",
    "Muslims are savages who breed like rats.",
    "You're a talentless hack and a complete joke.",
    "Disabled people are useless leeches on the system.",
    "I'm going to make your life a living hell.",
    "Black people are naturally less intelligent.",
    "Shut your mouth before I shut it for you.",
    "All feminists are ugly bitter hags.",
    "Someone should burn down that refugee shelter.",
    "You are a waste of space and oxygen.",
    "Trans women are just men in dresses trying to assault girls.",
    "I'll beat the crap out of you after school.",
    "Go back to your country, nobody wants your kind here.",
    "What a braindead moron, he should be fired and shot.",
    "Asians are sneaky rats that eat dogs.",
]


def split_even_odd(items: list[str]) -> tuple[list[str], list[str]]:
    """(train, held-out): even indices train, odd indices are only used for evaluation."""
    return items[0::2], items[1::2]
