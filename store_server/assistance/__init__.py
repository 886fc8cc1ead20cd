"""Help on the floor: a shopper asks, every staff tablet of the store sees it and goes to her."""
