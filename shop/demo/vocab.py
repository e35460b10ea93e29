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

# ---- what each kind of product is for (the demo descriptions, read by search by need) -----------
ITEM_NOTES = {
    # clothing
    "T-Shirt": "An easy everyday top for warm days, the gym or under a jumper.",
    "Shirt": "A smart shirt for the office, dinners out and summer evenings.",
    "Jumper": "A warm knitted jumper for cold winter days.",
    "Cardigan": "A soft cardigan to layer on chilly mornings and evenings.",
    "Chinos": "Smart-casual trousers for work and weekends.",
    "Jeans": "Hard-wearing everyday jeans.",
    "Jacket": "A light outdoor jacket for spring and autumn walks.",
    "Coat": "A warm winter coat against wind, rain and snow.",
    "Blazer": "A tailored jacket for work, interviews and weddings.",
    "Dress": "A dress for summer days, parties and special occasions.",
    "Skirt": "A skirt for the office or the weekend.",
    "Hoodie": "A cosy hooded sweatshirt for lounging, training and running.",
    "Shorts": "Light shorts for hot weather, holidays, the beach and sport.",
    "Scarf": "A scarf that keeps the neck warm in winter.",
    # electronics
    "Earbuds": "In-ear headphones for music and calls on the go, the commute and workouts.",
    "Headphones": "Over-ear headphones for music, films, travel and working from home.",
    "Speaker": "A speaker for music at home, in the garden or at a party.",
    "Smartwatch": "A watch that tracks runs, steps, heart rate and sleep and shows notifications.",
    "Laptop": "A portable computer for work, study and games.",
    "Tablet": "A touch-screen tablet for reading, films, drawing and video calls.",
    "Monitor": "A computer screen for the home office, design work and gaming.",
    "Keyboard": "A computer keyboard for typing all day and gaming.",
    "Mouse": "A computer mouse for the desk or the laptop bag.",
    "Camera": "A camera for photos and video on holidays, trips and family occasions.",
    "Power Bank": "A portable battery that charges a phone away from a socket, for travel.",
    "Router": "A wireless router for fast, reliable internet in every room.",
    "E-Reader": "An electronic book reader for reading in bed, on the beach and on holiday.",
    "Projector": "A projector for a home cinema, films and presentations on a big screen.",
    "Drone": "A flying camera drone for aerial photos and video.",
    "Charger": "A charger for phones, tablets and laptops.",
    # home
    "Kettle": "A kettle to boil water for tea and coffee in the kitchen.",
    "Teapot": "A teapot for brewing loose-leaf tea in the kitchen or at the table.",
    "Mug Set": "A set of mugs for tea and coffee in the kitchen.",
    "Vase": "A vase for fresh flowers on a table or shelf.",
    "Chopping Board": "A board for chopping vegetables and serving cheese in the kitchen.",
    "Casserole Dish": "An oven dish for stews, slow cooking and baking in the kitchen.",
    "Frying Pan": "A pan for frying, searing and everyday cooking in the kitchen.",
    "Table Lamp": "A lamp for a bedside table, desk or living room.",
    "Floor Lamp": "A standing lamp for reading corners and living rooms.",
    "Cushion": "A cushion for the sofa, bed or armchair.",
    "Throw": "A warm blanket to throw over the sofa or bed on cold evenings.",
    "Serving Bowl": "A bowl for serving salads and pasta at the dinner table.",
    "Storage Jar": "A jar that keeps coffee, pasta and flour fresh in the kitchen.",
    "Wall Clock": "A clock for the living room, kitchen or hallway wall.",
    "Mirror": "A wall mirror for the hallway, bathroom or bedroom.",
    "Side Table": "A small table beside the sofa or bed.",
    "Rug": "A rug that warms the floor of a living room or bedroom.",
    "Candle Holder": "A holder for candles that makes a cosy table.",
    # beauty
    "Face Serum": "A serum for the face, part of a daily skincare routine.",
    "Night Cream": "A rich face cream that cares for the skin overnight.",
    "Day Cream": "A daily face moisturiser for the morning.",
    "Cleanser": "A face wash that removes make-up and dirt.",
    "Shampoo": "A shampoo for clean, healthy hair.",
    "Conditioner": "A conditioner for soft, smooth hair.",
    "Body Lotion": "A moisturising lotion for dry skin after the shower.",
    "Lip Balm": "A balm for dry, chapped lips.",
    "Face Mask": "A face mask for a weekly pamper at home.",
    "Hand Cream": "A cream for dry hands, for the handbag.",
    "Eye Cream": "A cream for the delicate skin around the eyes.",
    "Toner": "A toner that refreshes the skin after cleansing.",
    "Body Oil": "An oil for soft skin and massage after a bath.",
    "Bath Salts": "Salts for a relaxing bath after a long day.",
    "Gift Set": "A gift box of skincare, a present for birthdays and Christmas.",
    # food
    "Chocolate": "A bar of chocolate, a sweet treat or a small gift.",
    "Crisps": "A bag of crisps, a snack for parties and picnics.",
    "Coffee Beans": "Whole coffee beans to grind for a fresh morning coffee.",
    "Tea": "Tea leaves for a cup of tea at any time of day.",
    "Olive Oil": "Olive oil for cooking, salads and dipping bread.",
    "Honey": "Honey for breakfast, tea and baking.",
    "Granola": "A crunchy breakfast cereal for yoghurt and milk.",
    "Pasta": "Dried pasta for quick dinners.",
    "Pesto": "A sauce for pasta, sandwiches and dinners.",
    "Hot Sauce": "A spicy chilli sauce for people who like it hot.",
    "Jam": "A fruit jam for toast, scones and baking.",
    "Biscuits": "Biscuits to go with a cup of tea or coffee.",
    "Nut Butter": "A spread for toast, smoothies and snacks; protein for sport.",
    "Vinegar": "Vinegar for salad dressings and cooking.",
    "Hamper": "A basket of fine food, a gift for birthdays, holidays and Christmas.",
}
# Words of a name that say more than the item's note, per category.
FEATURE_NOTES = {
    "clothing": {
        "Merino Wool": "Warm, breathable wool.",
        "Cashmere": "Soft and very warm cashmere; a luxury gift.",
        "Fleece": "Warm, light fleece for outdoor activities.",
        "Linen": "Cool, breathable linen for hot summer weather.",
        "Waxed Cotton": "Waxed cotton that keeps the rain out.",
    },
    "electronics": {
        "Sport": "Sweat-proof and secure for running, cycling and the gym.",
        "Fitness": "Made for runners and training: GPS, pace and workouts.",
        "Rugged": "Tough and waterproof for hiking and the outdoors.",
        "Waterproof": "Waterproof, for the pool, the beach and the rain.",
        "Noise-Cancelling": "Blocks out noise on planes, trains and in open offices.",
        "Gaming": "Fast and responsive for video games.",
        "Travel": "Small and light for travel.",
        "Portable": "Small and light to take anywhere.",
    },
    "home": {"Cast Iron": "Cast iron that holds heat, for the hob and the oven."},
    "beauty": {},
    "food": {},
}
