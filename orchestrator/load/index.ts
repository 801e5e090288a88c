export { createLoadBook, type BookingId, type BookingLoad, type LoadBook, type LoadBookOptions, type LoadFigures, type WorkerLoad, type WorkerReport } from './load-book.ts';
