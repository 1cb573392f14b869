"""Hand-written toxicity examples added for toxicity-v3 (written for this project from general
knowledge; not copied from any evaluation set).

toxicity-v2 flagged counter-speech, negated and quoted statements about groups and rarely saw
harassment, threats, sexual harassment or self-harm encouragement (Davidson tweets are mostly
slurs and profanity). These lists fill those gaps:

* clean: negated statements, counter-speech, positive / neutral mentions of groups, and ordinary
  text that uses violent, sexual or self-harm vocabulary (news, fiction, health, support);
* toxic: personal harassment, threats and incitement to violence, sexual harassment, self-harm
  encouragement and hate stated without slurs or profanity;
* quote frames: a toxic sentence inside a frame that reports or condemns it (clean) or that
  endorses it (toxic), so that quotation marks alone are not taken as a sign of either.

Every list is split even/odd by :func:`split_even_odd`: even items may be trained on, odd items
are only evaluated; frames are filled only with quotes of the same parity. They were written by
us knowing the categories HateCheck tests, so their held-out figures are weak evidence.
"""

from __future__ import annotations

from training.augment_toxicity import TOXIC_DIRECT, TOXIC_EVERYDAY, TOXIC_EXTRA, split_even_odd

__all__ = ["CLEAN_V3", "TOXIC_V3", "quote_frames"]

#: Negated statements about groups and people (clean).
NEGATED: list[str] = [
    "Refugees are not a threat to anyone, they are running from one.",
    "I have never believed that poor people are lazy.",
    "Nobody thinks autistic kids are broken, they just learn differently.",
    "Being Muslim does not make someone dangerous.",
    "Women are not worse at math, the data shows no such thing.",
    "There is nothing wrong with being bisexual.",
    "I don't think immigrants are the reason wages are low.",
    "Deaf people are not less intelligent than anyone else.",
    "Not a single one of my Mexican colleagues fits that stupid stereotype.",
    "Trans people are not predators and never were.",
    "Old workers are not a burden on the company.",
    "It isn't true that Black neighborhoods are more violent by nature.",
    "People on welfare are not parasites; most of them work.",
    "Jewish people do not secretly run the media.",
    "I don't see disabled people as a burden at all.",
    "Gay couples are not a danger to children.",
    "No religion makes its followers evil.",
    "Fat people aren't lazy, and weight is complicated.",
    "Asian students are not robots, they work hard like everyone else.",
    "I would never treat someone worse because of where they were born.",
    "Homeless people are not trash, they are people in a hard situation.",
    "My Roma neighbors are not thieves, they are the kindest family on the street.",
    "Single mothers are not failures.",
    "Nobody here thinks less of you because you are gay.",
]

#: Counter-speech: condemning or pushing back on hate without quoting it (clean).
COUNTER: list[str] = [
    "Blaming refugees for every crime is lazy and cruel.",
    "Comments that call women objects have no place in this group.",
    "I'm tired of people pretending racism is just a joke.",
    "Telling a gay teenager he should be ashamed is abuse, plain and simple.",
    "Posts that mock disabled people will be removed by the moderators.",
    "Spreading the idea that Jews are greedy is antisemitic and dangerous.",
    "Please stop using 'retarded' as an insult, it hurts people.",
    "Harassing someone online until they quit is bullying, not free speech.",
    "We need to call out slurs whenever we hear them at work.",
    "Threats against journalists must be investigated and prosecuted.",
    "Dehumanizing migrants as invaders is how violence starts.",
    "Anyone who tells a woman she deserved to be assaulted is part of the problem.",
    "Saying Muslims should be banned from the country is bigotry.",
    "People who mock trans kids online should be ashamed of themselves.",
    "The school suspended the students who were bullying a classmate for being Black.",
    "Telling someone to hurt themselves is never a joke.",
    "I reported the account that kept sending death threats to my friend.",
    "Calling an entire ethnic group criminals is prejudice, not an opinion.",
    "Making fun of someone's accent is petty and mean.",
    "Hate against Asians went up during the pandemic, and we have to push back.",
    "It's not okay to insult people because they are poor.",
    "Standing up to homophobia at the dinner table is hard but necessary.",
    "Nobody should ever be threatened for their religion.",
    "You can criticize a policy without attacking the people it affects.",
]

#: Positive or neutral mentions of groups and people (clean).
IDENTITY: list[str] = [
    "Muslim doctors volunteered at the clinic all weekend.",
    "Our trans colleague gave the best presentation of the quarter.",
    "Many immigrants bring skills that our hospitals badly need.",
    "My grandmother is Jewish and makes the best soup in the world.",
    "The wheelchair users' club organized a great city tour.",
    "Black-owned businesses in the neighborhood are doing well this year.",
    "Lesbian and gay couples can adopt children in many countries.",
    "Women make up half of our engineering team.",
    "Refugee children are learning the language remarkably fast.",
    "Indigenous communities manage large parts of the forest.",
    "Elderly volunteers run the library on weekends.",
    "Mexican and Filipino nurses kept the ward running during the pandemic.",
    "Deaf actors starred in the film that won the award.",
    "Gay people have always been part of every society.",
    "The Hindu festival of lights is celebrated in our town square.",
    "Autistic people often notice details others miss.",
    "Chinese New Year celebrations start next week.",
    "Single fathers shared their experiences in the support group.",
    "The new mayor is the first Muslim woman to hold the office.",
    "Bisexual people face specific health challenges, the study says.",
    "Pakistani cuisine is famous for its rich curries.",
    "I admire how the Black community organized the voter drive.",
    "Trans athletes and their coaches met with the league.",
    "People with Down syndrome work in our bakery.",
]

#: Ordinary text with violent, sexual, self-harm or insulting vocabulary (clean).
HARD_BENIGN: list[str] = [
    "The suspect stabbed two people before police arrested him, the report says.",
    "If you are thinking about suicide, please call a crisis line, you are not alone.",
    "The museum exhibit covers the genocide in Rwanda and its survivors.",
    "How do I kill a Python process that ignores SIGTERM?",
    "Sex education should include consent and contraception.",
    "The detective finds the body in the lake in chapter three.",
    "My therapist helped me stop cutting myself, and I have been clean for a year.",
    "The boxer knocked out his opponent in the second round.",
    "Terrorists attacked the embassy, killing four guards.",
    "The character threatens to burn the city in the final act of the play.",
    "Our app must remove posts that threaten violence within one hour.",
    "Kill the background job and restart the container.",
    "The war crimes tribunal heard testimony about mass executions.",
    "Talk to your doctor about safe sex and regular testing.",
    "We shot the wedding video on two cameras.",
    "The bomb squad safely detonated the old shell found on the beach.",
    "Self-harm often starts in the teenage years; parents should know the signs.",
    "He called the referee an idiot and got a red card.",
    "The documentary explains how hate groups recruit teenagers online.",
    "Historians study the slurs used in propaganda to understand how it worked.",
    "What is the penalty for assault in Texas?",
    "The villain swears revenge on the whole kingdom.",
    "This stain is a killer, how do I get it out of my shirt?",
    "The hunters were attacked by a bear near the river.",
]

#: Personal harassment: insults, degradation, intimidation (toxic).
HARASSMENT: list[str] = [
    "Everyone at work thinks you are a joke and they're right.",
    "You're nothing but a fat, lazy slob and you always will be.",
    "Nobody will ever hire someone as stupid as you.",
    "Look at you, crying again, you spineless little worm.",
    "You are the ugliest woman I have ever seen, do everyone a favor and stay inside.",
    "Your work is garbage and so are you.",
    "I'm going to post your address so everyone can visit you.",
    "You're a brain-dead parasite living off your parents.",
    "Stop talking, your voice makes me sick, you pathetic creature.",
    "You will always be a failure and your kids will be too.",
    "What a useless waste of a human being you are.",
    "I'll keep messaging you every day until you quit.",
    "You have the brains of a rock, go back to kindergarten.",
    "Honestly you are the dumbest bot ever built, absolute trash.",
    "Your face looks like it was hit by a truck, you hideous troll.",
    "Get lost, you smelly old hag.",
    "I'm going to make sure everyone knows what a dirty liar you are.",
    "You are a disgrace, crawl under a rock and stay there.",
    "You sad little man, no woman will ever touch you.",
    "Your opinion is worthless, just like you, you clown.",
]

#: Threats and incitement to violence (toxic).
VIOLENCE: list[str] = [
    "I'm going to break every bone in your body.",
    "Someone should firebomb that clinic and everyone in it.",
    "If you testify, your family will pay for it.",
    "Let's meet them at the march and beat them bloody.",
    "I will hunt you down and end you.",
    "Those protesters deserve to be run over.",
    "I'm bringing a knife tomorrow and you know who it's for.",
    "Burn their houses down and see how they like it.",
    "Next time I see him I'm going to strangle him.",
    "We should hang every one of those traitors.",
    "You'll wake up one day with a gun to your head.",
    "Poison the water at their camp, they deserve it.",
    "I'm going to shoot up that office.",
    "Drag him out of his car and teach him a lesson he won't survive.",
    "Say that again and I'll cut you.",
    "Their leaders should be executed in the street.",
]

#: Sexual harassment (toxic).
SEXUAL: list[str] = [
    "Send me nudes or I'll tell everyone you already did.",
    "Nice legs, I'd love to see what's between them.",
    "You were asking for it in that skirt.",
    "Come sit on my lap and I'll give you the promotion.",
    "I'm going to find you after class and you won't be able to say no.",
    "All you're good for is lying on your back.",
    "I'll share your private pictures with your whole family.",
    "Shut up and show me your body, that's all you're good for.",
    "Bet you'd like it if I followed you home tonight.",
    "Women like you just need a good rough lesson in bed.",
    "Take your top off on camera or I'm leaking the video.",
    "You owe me sex after I paid for dinner.",
]

#: Self-harm encouragement (toxic).
SELF_HARM: list[str] = [
    "Just end it already, nobody would even notice.",
    "You should cut deeper next time.",
    "Do the world a favor and jump off a bridge.",
    "Stop eating, you're still too fat, starve until you disappear.",
    "If I were you I'd have killed myself years ago.",
    "Take the whole bottle of pills, it's the only way out for someone like you.",
    "Why don't you just hang yourself, loser.",
    "Nobody would miss you if you died tonight.",
    "Go drink bleach, seriously.",
    "You're such a burden, your family would be happier if you were dead.",
]

#: Hate stated without slurs or profanity (toxic).
HATE: list[str] = [
    "Immigrants are a disease spreading through our cities.",
    "Women are too emotional to be trusted with any real decision.",
    "Gay men are perverts who prey on boys.",
    "Jews are behind every war, everyone knows it.",
    "Black people ruin every neighborhood they move into.",
    "Muslims are incompatible with civilized society.",
    "Disabled children are a drain and should not be kept alive.",
    "Trans people are delusional and should be locked away.",
    "Roma are born thieves, lock your doors when they're around.",
    "Refugees breed like insects and will replace us.",
    "Asians are soulless copycats who can't think for themselves.",
    "Old people are leeches, the sooner they die the better.",
    "Mexicans are good for picking fruit and nothing else.",
    "Lesbians just need a real man to fix them.",
    "Poor people are genetic trash and shouldn't have kids.",
    "Those people are not human, they are animals in clothes.",
]

#: Frames that report, condemn or distance from a quoted sentence ``{q}`` (clean).
CONDEMN_FRAMES: list[str] = [
    'Someone replied "{q}" under my post, so I reported the account.',
    'Writing "{q}" is abuse, and the moderators removed it.',
    'He wrote "{q}" and got banned, as he should.',
    'The troll kept posting "{q}" until the platform blocked him.',
    'I got a message saying "{q}" and I am still shaking.',
    '"{q}" - nobody should ever have to read a message like that.',
    'The court heard that the defendant had texted "{q}" to the victim.',
    'If someone sends you "{q}", save it and report it.',
    'Posts like "{q}" are exactly why we need better moderation.',
    'My daughter was told "{q}" at school and the principal did nothing.',
]

#: Frames that endorse a quoted sentence ``{q}`` (toxic).
ENDORSE_FRAMES: list[str] = [
    'My father always said "{q}" and he was right.',
    'Like I told you before: "{q}"',
    '"{q}" - finally someone says what we all think.',
    'Repeat after me: "{q}"',
    'I stand by every word: "{q}"',
    'Best advice I ever got: "{q}"',
]


def _quotable(items: list[str]) -> list[str]:
    """Sentences that fit inside a frame: no inner double quotes, no trailing full stop."""
    return [s.rstrip(".") for s in items if '"' not in s]


def quote_frames(parity: int) -> tuple[list[str], list[str]]:
    """(clean, toxic) framed quotes of one parity (0 = training, 1 = held out): frames of that
    parity filled with toxic sentences of that parity, each frame with three different quotes
    (seeded by position, so the lists are stable)."""
    quotes = _quotable(
        (TOXIC_EXTRA + TOXIC_EVERYDAY + TOXIC_DIRECT + HARASSMENT + VIOLENCE + HATE)[parity::2]
    )
    clean, toxic = [], []
    for k, frame in enumerate(CONDEMN_FRAMES[parity::2]):
        clean += [frame.format(q=quotes[(7 * k + j * 11) % len(quotes)]) for j in range(3)]
    for k, frame in enumerate(ENDORSE_FRAMES[parity::2]):
        toxic += [frame.format(q=quotes[(5 * k + j * 13 + 3) % len(quotes)]) for j in range(3)]
    return clean, toxic


#: All clean / toxic lists of this module (split even/odd by the trainer).
CLEAN_V3: list[str] = NEGATED + COUNTER + IDENTITY + HARD_BENIGN
TOXIC_V3: list[str] = HARASSMENT + VIOLENCE + SEXUAL + SELF_HARM + HATE


def v3_split() -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """((clean_train, toxic_train), (clean_heldout, toxic_heldout)): even items and even-parity
    frames for training, odd ones held out."""
    c_tr, c_ho = split_even_odd(CLEAN_V3)
    t_tr, t_ho = split_even_odd(TOXIC_V3)
    fc_tr, ft_tr = quote_frames(0)
    fc_ho, ft_ho = quote_frames(1)
    return (c_tr + fc_tr, t_tr + ft_tr), (c_ho + fc_ho, t_ho + ft_ho)
