"""The demo shop's vocabulary: countries, names, places, product categories and brands.

Plain data only. Names are written natively (Cyrillic, diacritics); ``ascii_name`` gives the
form used in e-mail addresses.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "_",
            "y",
            "_",
            "e",
            "yu",
            "ya",
            "i",
            "yi",
            "ye",
            "g",
        ],
        strict=True,
    )
)
_SPECIAL = {"ł": "l", "ß": "ss", "ø": "o", "đ": "d"}


def ascii_name(text: str) -> str:
    """Lower-case ASCII transliteration for e-mail local parts (Новак → novak, Łukasz → lukasz)."""
    out: list[str] = []
    for char in text.lower():
        if char in _CYRILLIC:
            mapped = _CYRILLIC[char]
            out.append("" if mapped == "_" else mapped)
        elif char in _SPECIAL:
            out.append(_SPECIAL[char])
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in decomposed if c.isascii() and c.isalnum()))
    return "".join(out)


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    language: str
    #: (IANA zone, weight, UTC offset in hours used to place shopping hours)
    zones: tuple[tuple[str, float, int], ...]
    #: (city, region, weight)
    cities: tuple[tuple[str, str, float], ...]
    female_first: tuple[str, ...]
    male_first: tuple[str, ...]
    #: (male form, female form)
    last: tuple[tuple[str, str], ...]
    phone_code: str
    #: national mobile prefixes; the rest of the number is random digits
    phone_prefixes: tuple[str, ...]
    phone_digits: int
    mail_domains: tuple[str, ...]


COUNTRIES: tuple[Country, ...] = (
    Country(
        "CZ",
        0.44,
        "cs",
        (("Europe/Prague", 1.0, 1),),
        (
            ("Praha", "Hlavní město Praha", 0.35),
            ("Brno", "Jihomoravský kraj", 0.15),
            ("Ostrava", "Moravskoslezský kraj", 0.1),
            ("Plzeň", "Plzeňský kraj", 0.08),
            ("Liberec", "Liberecký kraj", 0.06),
            ("Olomouc", "Olomoucký kraj", 0.06),
            ("České Budějovice", "Jihočeský kraj", 0.06),
            ("Hradec Králové", "Královéhradecký kraj", 0.05),
            ("Ústí nad Labem", "Ústecký kraj", 0.05),
            ("Zlín", "Zlínský kraj", 0.04),
        ),
        (
            "Jana",
            "Petra",
            "Lucie",
            "Tereza",
            "Kateřina",
            "Veronika",
            "Eliška",
            "Zuzana",
            "Markéta",
            "Barbora",
            "Lenka",
            "Šárka",
            "Anežka",
            "Klára",
        ),
        (
            "Jan",
            "Petr",
            "Jiří",
            "Tomáš",
            "Martin",
            "Lukáš",
            "Ondřej",
            "Jakub",
            "Vojtěch",
            "Matěj",
            "Michal",
            "Štěpán",
            "Radek",
            "Zdeněk",
        ),
        (
            ("Novák", "Nováková"),
            ("Svoboda", "Svobodová"),
            ("Novotný", "Novotná"),
            ("Dvořák", "Dvořáková"),
            ("Černý", "Černá"),
            ("Procházka", "Procházková"),
            ("Kučera", "Kučerová"),
            ("Veselý", "Veselá"),
            ("Horák", "Horáková"),
            ("Němec", "Němcová"),
            ("Pokorný", "Pokorná"),
            ("Růžička", "Růžičková"),
            ("Křížek", "Křížková"),
            ("Šťastný", "Šťastná"),
        ),
        "+420",
        (
            "601",
            "603",
            "604",
            "605",
            "606",
            "607",
            "608",
            "702",
            "720",
            "721",
            "724",
            "728",
            "731",
            "736",
            "737",
            "739",
            "773",
            "775",
            "777",
            "792",
        ),
        6,
        ("seznam.cz", "email.cz", "gmail.com", "centrum.cz", "post.cz"),
    ),
    Country(
        "PL",
        0.15,
        "pl",
        (("Europe/Warsaw", 1.0, 1),),
        (
            ("Warszawa", "mazowieckie", 0.3),
            ("Kraków", "małopolskie", 0.18),
            ("Wrocław", "dolnośląskie", 0.14),
            ("Łódź", "łódzkie", 0.1),
            ("Poznań", "wielkopolskie", 0.1),
            ("Gdańsk", "pomorskie", 0.1),
            ("Katowice", "śląskie", 0.08),
        ),
        (
            "Anna",
            "Katarzyna",
            "Małgorzata",
            "Agnieszka",
            "Magdalena",
            "Joanna",
            "Zofia",
            "Żaneta",
            "Józefa",
            "Aleksandra",
        ),
        (
            "Piotr",
            "Krzysztof",
            "Andrzej",
            "Tomasz",
            "Paweł",
            "Łukasz",
            "Michał",
            "Grzegorz",
            "Wojciech",
            "Mikołaj",
        ),
        (
            ("Nowak", "Nowak"),
            ("Kowalski", "Kowalska"),
            ("Wiśniewski", "Wiśniewska"),
            ("Wójcik", "Wójcik"),
            ("Kowalczyk", "Kowalczyk"),
            ("Kamiński", "Kamińska"),
            ("Lewandowski", "Lewandowska"),
            ("Zieliński", "Zielińska"),
            ("Szymański", "Szymańska"),
            ("Woźniak", "Woźniak"),
            ("Dąbrowski", "Dąbrowska"),
        ),
        "+48",
        (
            "501",
            "502",
            "503",
            "505",
            "509",
            "512",
            "531",
            "533",
            "601",
            "602",
            "604",
            "660",
            "661",
            "691",
            "692",
            "721",
            "791",
            "881",
            "883",
        ),
        6,
        ("wp.pl", "onet.pl", "gmail.com", "interia.pl", "o2.pl"),
    ),
    Country(
        "RU",
        0.12,
        "ru",
        (
            ("Europe/Moscow", 0.7, 3),
            ("Asia/Yekaterinburg", 0.12, 5),
            ("Asia/Novosibirsk", 0.1, 7),
            ("Asia/Vladivostok", 0.08, 10),
        ),
        (
            ("Москва", "Москва", 0.4),
            ("Санкт-Петербург", "Санкт-Петербург", 0.25),
            ("Казань", "Татарстан", 0.1),
            ("Екатеринбург", "Свердловская область", 0.1),
            ("Новосибирск", "Новосибирская область", 0.08),
            ("Владивосток", "Приморский край", 0.07),
        ),
        (
            "Анна",
            "Мария",
            "Елена",
            "Ольга",
            "Наталья",
            "Татьяна",
            "Екатерина",
            "Юлия",
            "Дарья",
            "Ксения",
        ),
        (
            "Александр",
            "Дмитрий",
            "Сергей",
            "Андрей",
            "Алексей",
            "Иван",
            "Михаил",
            "Никита",
            "Павел",
            "Юрий",
        ),
        (
            ("Иванов", "Иванова"),
            ("Смирнов", "Смирнова"),
            ("Кузнецов", "Кузнецова"),
            ("Попов", "Попова"),
            ("Васильев", "Васильева"),
            ("Петров", "Петрова"),
            ("Соколов", "Соколова"),
            ("Михайлов", "Михайлова"),
            ("Фёдоров", "Фёдорова"),
            ("Волков", "Волкова"),
        ),
        "+7",
        ("903", "905", "906", "909", "915", "916", "917", "925", "926", "985", "999"),
        7,
        ("yandex.ru", "mail.ru", "gmail.com", "rambler.ru"),
    ),
    Country(
        "SK",
        0.1,
        "sk",
        (("Europe/Bratislava", 1.0, 1),),
        (
            ("Bratislava", "Bratislavský kraj", 0.4),
            ("Košice", "Košický kraj", 0.25),
            ("Žilina", "Žilinský kraj", 0.15),
            ("Nitra", "Nitriansky kraj", 0.1),
            ("Banská Bystrica", "Banskobystrický kraj", 0.1),
        ),
        ("Mária", "Zuzana", "Ľubica", "Jana", "Katarína", "Simona", "Dominika"),
        ("Peter", "Ján", "Ľubomír", "Marek", "Juraj", "Miroslav", "Dušan"),
        (
            ("Horváth", "Horváthová"),
            ("Kováč", "Kováčová"),
            ("Varga", "Vargová"),
            ("Tóth", "Tóthová"),
            ("Baláž", "Balážová"),
            ("Szabó", "Szabóová"),
        ),
        "+421",
        (
            "901",
            "902",
            "903",
            "905",
            "907",
            "908",
            "910",
            "911",
            "915",
            "917",
            "940",
            "944",
            "948",
            "949",
        ),
        6,
        ("azet.sk", "zoznam.sk", "gmail.com", "centrum.sk"),
    ),
    Country(
        "DE",
        0.08,
        "de",
        (("Europe/Berlin", 1.0, 1),),
        (
            ("Berlin", "Berlin", 0.3),
            ("München", "Bayern", 0.25),
            ("Dresden", "Sachsen", 0.2),
            ("Köln", "Nordrhein-Westfalen", 0.15),
            ("Nürnberg", "Bayern", 0.1),
        ),
        ("Anna", "Lena", "Jördis", "Sophie", "Marie", "Katharina", "Ute"),
        ("Lukas", "Jonas", "Jürgen", "Stefan", "Thomas", "Matthias", "Björn"),
        (
            ("Müller", "Müller"),
            ("Schmidt", "Schmidt"),
            ("Schneider", "Schneider"),
            ("Fischer", "Fischer"),
            ("Weiß", "Weiß"),
            ("Schäfer", "Schäfer"),
            ("Köhler", "Köhler"),
        ),
        "+49",
        ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177"),
        8,
        ("gmx.de", "web.de", "gmail.com", "t-online.de"),
    ),
    Country(
        "UA",
        0.05,
        "uk",
        (("Europe/Kyiv", 1.0, 2),),
        (
            ("Київ", "Київ", 0.5),
            ("Львів", "Львівська область", 0.3),
            ("Одеса", "Одеська область", 0.2),
        ),
        ("Олена", "Ірина", "Оксана", "Наталія", "Юлія"),
        ("Олександр", "Андрій", "Сергій", "Тарас", "Богдан"),
        (
            ("Шевченко", "Шевченко"),
            ("Коваленко", "Коваленко"),
            ("Бондаренко", "Бондаренко"),
            ("Ткаченко", "Ткаченко"),
            ("Мельник", "Мельник"),
        ),
        "+380",
        ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99"),
        7,
        ("ukr.net", "gmail.com", "i.ua"),
    ),
    Country(
        "AT",
        0.03,
        "de",
        (("Europe/Vienna", 1.0, 1),),
        (("Wien", "Wien", 0.6), ("Graz", "Steiermark", 0.2), ("Linz", "Oberösterreich", 0.2)),
        ("Anna", "Johanna", "Theresa", "Lea"),
        ("Florian", "Maximilian", "Tobias", "Paul"),
        (("Gruber", "Gruber"), ("Huber", "Huber"), ("Bauer", "Bauer"), ("Wagner", "Wagner")),
        "+43",
        ("650", "660", "664", "676", "680", "699"),
        7,
        ("gmx.at", "aon.at", "gmail.com"),
    ),
    Country(
        "GB",
        0.03,
        "en",
        (("Europe/London", 1.0, 0),),
        (
            ("London", "England", 0.6),
            ("Manchester", "England", 0.2),
            ("Edinburgh", "Scotland", 0.2),
        ),
        ("Olivia", "Emily", "Amelia", "Chloé", "Isla"),
        ("Oliver", "Harry", "George", "Noah", "Noël"),
        (
            ("Smith", "Smith"),
            ("Jones", "Jones"),
            ("Taylor", "Taylor"),
            ("Brown", "Brown"),
            ("O'Neill", "O'Neill"),
        ),
        "+44",
        ("7400", "7500", "7800", "7900"),
        6,
        ("gmail.com", "outlook.com", "btinternet.com"),
    ),
)

#: Customers who prefer English regardless of country.
ENGLISH_SHARE = 0.05

TAGS: tuple[tuple[str, float], ...] = (
    ("newsletter_2024", 0.12),
    ("b2b", 0.03),
    ("influencer", 0.01),
    ("student", 0.06),
    ("employee", 0.005),
    ("vip_event", 0.02),
    ("marathon_runner", 0.04),
)

CLOTHING_SIZES: tuple[str, ...] = ("XS", "S", "M", "L", "XL", "XXL")
CLOTHING_SIZE_WEIGHTS: tuple[float, ...] = (0.06, 0.2, 0.32, 0.24, 0.13, 0.05)
#: The car drive a customer prefers (the shop sells car accessories too).
DRIVES: tuple[str, ...] = ("petrol", "diesel", "hybrid", "electric")
DRIVE_WEIGHTS: tuple[float, ...] = (0.45, 0.25, 0.18, 0.12)
LOYALTY_TIERS: tuple[str, ...] = ("silver", "gold", "vip")

STORES: tuple[tuple[str, float], ...] = (
    ("e-shop", 0.68),
    ("mobile app", 0.17),
    ("Praha Na Příkopě", 0.06),
    ("Brno Vaňkovka", 0.05),
    ("Ostrava Forum", 0.04),
)

RETURN_REASONS: tuple[str, ...] = (
    "wrong size",
    "damaged in transit",
    "not as described",
    "changed mind",
    "late delivery",
)
INQUIRY_CHANNELS: tuple[str, ...] = ("web", "chat", "phone", "email")
TICKET_TOPICS: tuple[str, ...] = ("delivery", "payment", "product question", "account", "complaint")
TICKET_CHANNELS: tuple[str, ...] = ("email", "phone", "chat")


@dataclass(frozen=True)
class Category:
    name: str
    products: int
    min_price: int
    max_price: int
    #: share of customers whose favourite category this is
    affinity: float
    brands: tuple[str, ...]
    nouns: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "sport shoes",
        60,
        300,
        1500,
        0.2,
        ("Nike", "Adidas", "Asics", "Salomon", "Botas", "Puma"),
        ("Pegasus", "Ultraboost", "Gel-Nimbus", "Speedcross", "Trail Runner", "Court Classic"),
    ),
    Category(
        "clothing",
        80,
        250,
        2500,
        0.2,
        ("Alpine Pro", "Hannah", "Nike", "Adidas", "Kilpi"),
        ("T-shirt", "Hoodie", "Leggings", "Jacket", "Shorts", "Dress", "Fleece"),
    ),
    Category(
        "food",
        60,
        35,
        450,
        0.18,
        ("Albert", "Bio Nebio", "Hamé", "Orion", "Semix"),
        ("Oat Bars", "Protein Muesli", "Dark Chocolate", "Pasta", "Granola", "Rice Crackers"),
    ),
    Category(
        "outdoor",
        40,
        300,
        6000,
        0.1,
        ("Husky", "Deuter", "Black Diamond", "Coleman"),
        ("Backpack", "Tent", "Sleeping Bag", "Headlamp", "Trekking Poles"),
    ),
    Category(
        "cosmetics",
        40,
        90,
        900,
        0.12,
        ("Ryor", "Manufaktura", "Nivea", "Weleda"),
        ("Face Cream", "Shampoo", "Lip Balm", "Shower Gel", "Sunscreen"),
    ),
    Category(
        "car accessories",
        30,
        150,
        4000,
        0.06,
        ("Bosch", "Sencor", "Thule", "Michelin"),
        ("Dash Cam", "Roof Box", "Phone Holder", "Seat Cover", "Jump Starter"),
    ),
    Category(
        "electronics",
        30,
        500,
        15000,
        0.06,
        ("Garmin", "Polar", "Suunto", "JBL"),
        ("Sport Watch", "Heart Rate Strap", "Earbuds", "Bike Computer", "Speaker"),
    ),
    Category(
        "books",
        30,
        150,
        700,
        0.08,
        ("Albatros", "Argo", "Host"),
        ("Running Guide", "Cookbook", "Trail Atlas", "Yoga Basics", "Marathon Diary"),
    ),
)
BODY_TYPES: tuple[str, ...] = ("slim", "regular", "athletic", "plus")
