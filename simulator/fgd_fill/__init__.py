"""The FGD paper's "inflate until full" experiment: GPU nodes only, shuffled pods sampled with
replacement to 130 % of GPU capacity, no departures, allocation logged against arrived load."""
