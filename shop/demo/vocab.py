"""Word lists of the demo shop: product vocabularies, brands, people, places, carriers, reasons.

Only data lives here; the generators in the sibling modules combine these words with a seeded
random generator.
"""

from __future__ import annotations

# ---- products ------------------------------------------------------------------------------------

# Price range (min, max) per category, in the shop's currency.
PRICE_RANGE = {
    "clothing": (15.0, 250.0),
    "electronics": (30.0, 1500.0),
    "home": (10.0, 400.0),
    "beauty": (5.0, 120.0),
    "food": (2.0, 60.0),
}

# Share of the catalogue per category (clothing, electronics, home, beauty, food).
CATEGORY_WEIGHTS = (0.25, 0.20, 0.20, 0.18, 0.17)

# Units a customer puts in one order line at most, per category.
MAX_QUANTITY = {"clothing": 6, "electronics": 3, "home": 6, "beauty": 8, "food": 12}

BRANDS = {
    "clothing": ("Harbour & Hem", "Northwind Apparel", "Loom & Lark", "Fieldstone", "Atelier Nova"),
    "electronics": ("Voltaic", "Auralis", "Nimbus Tech", "Kestrel", "Orbit Labs"),
    "home": ("Hearth & Hollow", "Oakridge Home", "Kiln & Co", "Maison Lune"),
    "beauty": ("Petal Lab", "Bloom & Balm", "Aurora Skin", "Verdant"),
    "food": ("Good Grain", "Harvest Table", "Cocoa Coast", "Little Orchard"),
}

# Clothing: "<fit or colour> <material> <garment>"; each garment has a typical price and the
# materials it is made of, each material a price factor.
CLOTHING_LEADS = (
    "Slim Fit", "Relaxed Fit", "Classic", "Oversized", "Tailored", "Cropped",
    "Blue", "Navy", "Black", "White", "Olive", "Grey", "Burgundy", "Sand", "Charcoal", "Forest Green",
)  # fmt: skip
CLOTHING_MATERIALS = {
    "Linen": 1.0, "Cotton": 0.8, "Organic Cotton": 0.95, "Merino Wool": 1.5, "Cashmere": 2.4,
    "Denim": 1.0, "Corduroy": 1.05, "Silk": 1.9, "Fleece": 0.85, "Waxed Cotton": 1.4,
}  # fmt: skip
CLOTHING_ITEMS = {
    "Shirt": (45, ("Linen", "Cotton", "Organic Cotton", "Denim", "Silk", "Corduroy")),
    "T-Shirt": (22, ("Cotton", "Organic Cotton", "Linen", "Merino Wool")),
    "Jumper": (70, ("Merino Wool", "Cashmere", "Cotton", "Fleece")),
    "Cardigan": (75, ("Merino Wool", "Cashmere", "Cotton")),
    "Chinos": (55, ("Cotton", "Organic Cotton", "Linen", "Corduroy")),
    "Jeans": (70, ("Denim",)),
    "Jacket": (120, ("Denim", "Waxed Cotton", "Corduroy", "Fleece", "Linen")),
    "Coat": (170, ("Merino Wool", "Cashmere", "Waxed Cotton")),
    "Blazer": (140, ("Linen", "Merino Wool", "Corduroy", "Cotton")),
    "Dress": (80, ("Linen", "Cotton", "Silk", "Organic Cotton")),
    "Skirt": (50, ("Linen", "Denim", "Corduroy", "Silk", "Cotton")),
    "Hoodie": (50, ("Cotton", "Organic Cotton", "Fleece")),
    "Shorts": (32, ("Linen", "Cotton", "Denim")),
    "Scarf": (35, ("Merino Wool", "Cashmere", "Silk", "Linen")),
}

# Electronics: "<feature> <device> <edition>".
ELECTRONICS_ITEMS = {
    "Earbuds": (80, ("Wireless", "Noise-Cancelling", "Sport", "True Wireless")),
    "Headphones": (150, ("Wireless", "Noise-Cancelling", "Studio", "Over-Ear")),
    "Speaker": (90, ("Bluetooth", "Portable", "Smart", "Waterproof")),
    "Smartwatch": (260, ("Fitness", "Classic", "Rugged", "Slim")),
    "Laptop": (1050, ("Ultralight", "Gaming", "Business", "Convertible")),
    "Tablet": (420, ("Pocket", "Creator", "Family", "Ultra HD")),
    "Monitor": (320, ("4K", "Curved", "Ultrawide", "Portable")),
    "Keyboard": (75, ("Mechanical", "Wireless", "Compact", "Ergonomic")),
    "Mouse": (38, ("Wireless", "Ergonomic", "Gaming", "Travel")),
    "Camera": (640, ("Mirrorless", "Action", "Compact", "Instant")),
    "Power Bank": (40, ("Fast-Charge", "Slim", "Solar", "Magnetic")),
    "Router": (130, ("Mesh", "Wi-Fi 6", "Travel", "Gaming")),
    "E-Reader": (140, ("Backlit", "Waterproof", "Colour", "Pocket")),
    "Projector": (520, ("4K", "Portable", "Mini", "Smart")),
    "Drone": (780, ("Folding", "4K", "Mini", "Racing")),
    "Charger": (32, ("Fast-Charge", "Wireless", "Travel", "Multi-Port")),
}
ELECTRONICS_EDITIONS = {
    "Pro": 1.5, "Max": 1.8, "Mini": 0.7, "Lite": 0.65, "2": 1.0, "X": 1.25, "Air": 1.1, "Plus": 1.2,
    "S": 0.9, "": 1.0,
}  # fmt: skip

# Home: "<colour> <material> <object>".
HOME_COLOURS = (
    "Blue",
    "Cream",
    "Sage",
    "Terracotta",
    "Charcoal",
    "White",
    "Mustard",
    "Teal",
    "Rose",
)
HOME_ITEMS = {
    "Kettle": (45, ("Enamel", "Stainless Steel", "Copper", "Glass")),
    "Teapot": (32, ("Ceramic", "Cast Iron", "Glass", "Stoneware")),
    "Mug Set": (24, ("Stoneware", "Ceramic", "Enamel", "Glass")),
    "Vase": (38, ("Ceramic", "Glass", "Stoneware", "Marble")),
    "Chopping Board": (30, ("Oak", "Bamboo", "Marble", "Walnut")),
    "Casserole Dish": (95, ("Cast Iron", "Stoneware", "Enamel")),
    "Frying Pan": (55, ("Cast Iron", "Copper", "Stainless Steel")),
    "Table Lamp": (85, ("Ceramic", "Oak", "Marble", "Glass", "Brass")),
    "Floor Lamp": (190, ("Oak", "Brass", "Walnut")),
    "Cushion": (26, ("Linen", "Velvet", "Wool", "Cotton")),
    "Throw": (60, ("Wool", "Linen", "Cotton", "Velvet")),
    "Serving Bowl": (34, ("Ceramic", "Oak", "Stoneware", "Glass", "Walnut")),
    "Storage Jar": (16, ("Glass", "Ceramic", "Bamboo", "Enamel")),
    "Wall Clock": (48, ("Oak", "Brass", "Walnut", "Copper")),
    "Mirror": (120, ("Oak", "Brass", "Walnut", "Rattan")),
    "Side Table": (160, ("Oak", "Walnut", "Marble", "Rattan")),
    "Rug": (210, ("Wool", "Jute", "Cotton")),
    "Candle Holder": (18, ("Brass", "Glass", "Ceramic", "Marble")),
}
HOME_MATERIAL_FACTOR = {
    "Copper": 1.6, "Brass": 1.4, "Marble": 1.5, "Walnut": 1.4, "Cast Iron": 1.3, "Velvet": 1.2,
    "Wool": 1.2, "Glass": 0.9, "Bamboo": 0.8, "Jute": 0.9, "Enamel": 0.85,
}  # fmt: skip

# Beauty: "<effect> <ingredient> <product>".
BEAUTY_EFFECTS = (
    "Hydrating", "Nourishing", "Brightening", "Soothing", "Repairing", "Gentle", "Revitalising",
    "Mattifying", "Firming", "Clarifying",
)  # fmt: skip
BEAUTY_INGREDIENTS = (
    "Rose", "Vitamin C", "Hyaluronic", "Argan Oil", "Aloe", "Shea Butter", "Charcoal", "Green Tea",
    "Retinol", "Coconut", "Oat", "Lavender",
)  # fmt: skip
BEAUTY_ITEMS = {
    "Face Serum": 30, "Night Cream": 34, "Day Cream": 26, "Cleanser": 14, "Shampoo": 11,
    "Conditioner": 11, "Body Lotion": 13, "Lip Balm": 6, "Face Mask": 18, "Hand Cream": 9,
    "Eye Cream": 32, "Toner": 15, "Body Oil": 24, "Bath Salts": 12, "Gift Set": 58,
}  # fmt: skip

# Food: "<style> <flavour> <product>" (flavour optional).
FOOD_STYLES = (
    "Organic", "Artisan", "Smoked", "Hand-Cooked", "Single-Origin", "Stone-Baked", "Fair Trade",
    "Wild", "Small-Batch",
)  # fmt: skip
FOOD_ITEMS = {
    "Chocolate": (3.5, ("Dark", "Milk", "Sea Salt", "Orange", "Hazelnut")),
    "Crisps": (2.5, ("Sea Salt", "Cheddar", "Chilli", "Rosemary")),
    "Coffee Beans": (11, ("Ethiopian", "Colombian", "Espresso", "Decaf")),
    "Tea": (6, ("Green", "Earl Grey", "Mint", "Chai", "Breakfast")),
    "Olive Oil": (12, ("Greek", "Lemon", "Chilli", "Garlic")),
    "Honey": (8, ("Wildflower", "Manuka", "Heather", "Acacia")),
    "Granola": (5.5, ("Almond", "Berry", "Cocoa", "Maple")),
    "Pasta": (3.2, ("Durum", "Spelt", "Spinach", "Wholewheat")),
    "Pesto": (4.5, ("Basil", "Red", "Wild Garlic", "Walnut")),
    "Hot Sauce": (5.5, ("Habanero", "Chipotle", "Mango", "Scotch Bonnet")),
    "Jam": (4.5, ("Strawberry", "Raspberry", "Apricot", "Blackcurrant")),
    "Biscuits": (3.8, ("Oat", "Ginger", "Chocolate Chip", "Shortbread")),
    "Nut Butter": (6.5, ("Almond", "Peanut", "Cashew", "Hazelnut")),
    "Vinegar": (9, ("Balsamic", "Cider", "Sherry", "Raspberry")),
    "Hamper": (45, ("Breakfast", "Cheese", "Chocolate", "Picnic")),
}

# ---- people and places ---------------------------------------------------------------------------

FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Sophia", "Grace", "Lily", "Freya", "Emily", "Ella",
    "Chloe", "Hannah", "Zara", "Aisha", "Priya", "Mei", "Yuki", "Sofia", "Lucia", "Elena", "Anna",
    "Clara", "Lea", "Emma", "Julia", "Marie", "Ines", "Noor", "Fatima", "Oliver", "George", "Noah",
    "Arthur", "Leo", "Harry", "Oscar", "Jack", "Charlie", "Thomas", "James", "William", "Liam",
    "Ethan", "Samuel", "Daniel", "Mohammed", "Omar", "Arjun", "Ravi", "Kenji", "Wei", "Lucas",
    "Mateo", "Hugo", "Louis", "Felix", "Jonas", "Lars", "Marco", "Pablo", "Finn", "Sean", "Kwame",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Khan",
    "Evans", "Thomas", "Roberts", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes",
    "Edwards", "Green", "Hall", "Wood", "Harris", "Martin", "Clarke", "Murphy", "Kelly", "Byrne",
    "O'Brien", "Walsh", "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Dubois",
    "Durand", "Lefebvre", "Moreau", "de Vries", "Jansen", "Bakker", "Visser", "Garcia", "Martinez",
    "Lopez", "Rossi", "Russo", "Bianchi", "Romano", "Nguyen", "Chen", "Wang", "Kim", "Tanaka",
    "Singh", "Okafor", "Mensah", "Novak", "Kowalski", "Johansson", "Larsen", "Silva",
)  # fmt: skip

# Country -> (weight among customers, cities).
COUNTRIES = {
    "United Kingdom": (0.46, ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol",
                              "Edinburgh", "Cardiff", "Liverpool", "Nottingham")),
    "Germany": (0.12, ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt")),
    "France": (0.09, ("Paris", "Lyon", "Marseille", "Toulouse", "Lille")),
    "Ireland": (0.07, ("Dublin", "Cork", "Galway", "Limerick")),
    "Netherlands": (0.07, ("Amsterdam", "Rotterdam", "Utrecht", "The Hague")),
    "Spain": (0.05, ("Madrid", "Barcelona", "Valencia", "Seville")),
    "Italy": (0.05, ("Milan", "Rome", "Turin", "Bologna")),
    "United States": (0.09, ("New York", "Boston", "Chicago", "Seattle", "Austin")),
}  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# ---- fulfilment ----------------------------------------------------------------------------------

# Carrier -> (weight for UK addresses, weight elsewhere).
CARRIERS = {
    "Royal Mail": (0.42, 0.0),
    "DPD": (0.24, 0.15),
    "DHL": (0.18, 0.40),
    "UPS": (0.16, 0.25),
    "FedEx": (0.0, 0.20),
}
CARRIER_HUBS = {
    "Royal Mail": ("Warrington mail centre", "Heathrow worldwide distribution centre"),
    "DPD": ("Hinckley hub", "Oberhausen hub"),
    "DHL": ("East Midlands hub", "Leipzig hub"),
    "UPS": ("Tamworth hub", "Cologne hub"),
    "FedEx": ("Stansted hub", "Paris CDG hub"),
}
WAREHOUSE = "Shopbot warehouse, Coventry"

RETURN_REASONS = {
    "clothing": ("Too small", "Too large", "Colour differs from the photo", "Not as described",
                 "Changed my mind", "Arrived damaged"),
    "electronics": ("Faulty", "Stopped working", "Not compatible with my device", "Arrived damaged",
                    "Changed my mind"),
    "home": ("Arrived damaged", "Not as described", "Colour differs from the photo",
             "Changed my mind"),
    "beauty": ("Skin reaction", "Arrived damaged", "Wrong item sent", "Changed my mind"),
    "food": ("Arrived past its best-before date", "Arrived damaged", "Wrong item sent"),
}  # fmt: skip
